// Original file: proto/dlphys.proto

import type { LeasedRun as _dlphys_LeasedRun, LeasedRun__Output as _dlphys_LeasedRun__Output } from '../dlphys/LeasedRun.js';

export interface LeaseReply {
  'runs'?: (_dlphys_LeasedRun)[];
  /**
   * Runs not yet finished in all sweeps (queued, leased or running), so an agent told to exit when
   * idle waits while a run could still come back to the queue.
   */
  'unfinished'?: (number);
}

export interface LeaseReply__Output {
  'runs': (_dlphys_LeasedRun__Output)[];
  /**
   * Runs not yet finished in all sweeps (queued, leased or running), so an agent told to exit when
   * idle waits while a run could still come back to the queue.
   */
  'unfinished': (number);
}
