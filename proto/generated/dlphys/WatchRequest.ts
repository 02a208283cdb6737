// Original file: proto/dlphys.proto

import type { Long } from '@grpc/proto-loader';

export interface WatchRequest {
  /**
   * Replay events after this id first (0: from the start), then stream new ones.
   */
  'since_id'?: (number | string | Long);
}

export interface WatchRequest__Output {
  /**
   * Replay events after this id first (0: from the start), then stream new ones.
   */
  'since_id': (string);
}
