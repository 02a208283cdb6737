// Original file: proto/dlphys.proto

import type { RunRef as _dlphys_RunRef, RunRef__Output as _dlphys_RunRef__Output } from '../dlphys/RunRef.js';
import type { EarlyStop as _dlphys_EarlyStop, EarlyStop__Output as _dlphys_EarlyStop__Output } from '../dlphys/EarlyStop.js';

export interface HeartbeatReply {
  /**
   * Runs a user asked to stop: the agent stops them and reports them as usual.
   */
  'cancel'?: (_dlphys_RunRef)[];
  /**
   * Attempts the coordinator no longer honours (lease expired, run moved on): the agent drops them.
   */
  'lost'?: (_dlphys_RunRef)[];
  /**
   * Runs the sweep's early termination stopped: the agent stops them, their summary.json says
   * early_stopped and why, and they are reported as stopped.
   */
  'early_stop'?: (_dlphys_EarlyStop)[];
}

export interface HeartbeatReply__Output {
  /**
   * Runs a user asked to stop: the agent stops them and reports them as usual.
   */
  'cancel': (_dlphys_RunRef__Output)[];
  /**
   * Attempts the coordinator no longer honours (lease expired, run moved on): the agent drops them.
   */
  'lost': (_dlphys_RunRef__Output)[];
  /**
   * Runs the sweep's early termination stopped: the agent stops them, their summary.json says
   * early_stopped and why, and they are reported as stopped.
   */
  'early_stop': (_dlphys_EarlyStop__Output)[];
}
