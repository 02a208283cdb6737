// Original file: proto/dlphys.proto

import type { Long } from '@grpc/proto-loader';

export interface FileStart {
  /**
   * Relative to the run folder; "..", absolute paths and links out of the folder are refused.
   */
  'path'?: (string);
  'size'?: (number | string | Long);
}

export interface FileStart__Output {
  /**
   * Relative to the run folder; "..", absolute paths and links out of the folder are refused.
   */
  'path': (string);
  'size': (string);
}
