// Original file: proto/dlphys.proto

import type { Long } from '@grpc/proto-loader';

/**
 * The coordinator's own health, for status and the dashboard.
 */
export interface CoordinatorHealth {
  /**
   * The last landing of a run folder failed for lack of space; cleared by the next landing.
   */
  'disk_full'?: (boolean);
  'disk_error'?: (string);
  'disk_full_since'?: (string);
  /**
   * Free bytes on the runs dir's file system (-1 when unknown).
   */
  'runs_dir_free_bytes'?: (number | string | Long);
  'version'?: (string);
}

/**
 * The coordinator's own health, for status and the dashboard.
 */
export interface CoordinatorHealth__Output {
  /**
   * The last landing of a run folder failed for lack of space; cleared by the next landing.
   */
  'disk_full': (boolean);
  'disk_error': (string);
  'disk_full_since': (string);
  /**
   * Free bytes on the runs dir's file system (-1 when unknown).
   */
  'runs_dir_free_bytes': (string);
  'version': (string);
}
