// Original file: proto/dlphys.proto

import type { Long } from '@grpc/proto-loader';

export interface MetricAck {
  /**
   * Every row with seq <= acked_seq is stored; a resend of those is ignored.
   */
  'acked_seq'?: (number | string | Long);
  /**
   * Not empty: the sweep's early termination stopped this run, and why (the heartbeat says so too;
   * this reply says it within the agent's metrics interval).
   */
  'early_stop'?: (string);
}

export interface MetricAck__Output {
  /**
   * Every row with seq <= acked_seq is stored; a resend of those is ignored.
   */
  'acked_seq': (string);
  /**
   * Not empty: the sweep's early termination stopped this run, and why (the heartbeat says so too;
   * this reply says it within the agent's metrics interval).
   */
  'early_stop': (string);
}
