// Original file: proto/dlphys.proto

import type { Long } from '@grpc/proto-loader';

export interface UploadReply {
  'files'?: (number);
  'bytes'?: (number | string | Long);
}

export interface UploadReply__Output {
  'files': (number);
  'bytes': (string);
}
