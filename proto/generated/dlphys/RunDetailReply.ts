// Original file: proto/dlphys.proto

import type { RunStatus as _dlphys_RunStatus, RunStatus__Output as _dlphys_RunStatus__Output } from '../dlphys/RunStatus.js';

export interface RunDetailReply {
  'run'?: (_dlphys_RunStatus | null);
  /**
   * The run's resolved config (what its config.json holds).
   */
  'config_json'?: (string);
  /**
   * Its metrics.jsonl lines as stored, in order (the current attempt's): the last 100,000 of a
   * longer run, fewer when those pass 32 MiB together.
   */
  'metric_lines'?: (string)[];
  /**
   * The last log_lines lines of its train.log (from the landed run folder; empty before it lands;
   * at most 1 MiB from the file's end).
   */
  'log_tail'?: (string)[];
}

export interface RunDetailReply__Output {
  'run': (_dlphys_RunStatus__Output | null);
  /**
   * The run's resolved config (what its config.json holds).
   */
  'config_json': (string);
  /**
   * Its metrics.jsonl lines as stored, in order (the current attempt's): the last 100,000 of a
   * longer run, fewer when those pass 32 MiB together.
   */
  'metric_lines': (string)[];
  /**
   * The last log_lines lines of its train.log (from the landed run folder; empty before it lands;
   * at most 1 MiB from the file's end).
   */
  'log_tail': (string)[];
}
