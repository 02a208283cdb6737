// Original file: proto/dlphys.proto

import type { Long } from '@grpc/proto-loader';

/**
 * One metrics.jsonl line as the run wrote it; seq numbers a run's lines from 1 within an attempt.
 */
export interface MetricRow {
  'seq'?: (number | string | Long);
  'line'?: (string);
}

/**
 * One metrics.jsonl line as the run wrote it; seq numbers a run's lines from 1 within an attempt.
 */
export interface MetricRow__Output {
  'seq': (string);
  'line': (string);
}
