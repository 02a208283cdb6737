// Original file: proto/dlphys.proto

import type { Long } from '@grpc/proto-loader';

export interface MetricAck {
  /**
   * Every row with seq <= acked_seq is stored; a resend of those is ignored.
   */
  'acked_seq'?: (number | string | Long);
}

export interface MetricAck__Output {
  /**
   * Every row with seq <= acked_seq is stored; a resend of those is ignored.
   */
  'acked_seq': (string);
}
