// Original file: proto/dlphys.proto

import type { RunRef as _dlphys_RunRef, RunRef__Output as _dlphys_RunRef__Output } from '../dlphys/RunRef.js';

export interface RunReport {
  'run'?: (_dlphys_RunRef | null);
  'agent_id'?: (string);
  /**
   * completed | diverged | stopped | failed: the run's own outcome (summary.json status);
   * handback: the agent is shutting down and returns the run to the queue.
   */
  'status'?: (string);
  'summary_json'?: (string);
  'error'?: (string);
}

export interface RunReport__Output {
  'run': (_dlphys_RunRef__Output | null);
  'agent_id': (string);
  /**
   * completed | diverged | stopped | failed: the run's own outcome (summary.json status);
   * handback: the agent is shutting down and returns the run to the queue.
   */
  'status': (string);
  'summary_json': (string);
  'error': (string);
}
