// Original file: proto/dlphys.proto

import type { RunRef as _dlphys_RunRef, RunRef__Output as _dlphys_RunRef__Output } from '../dlphys/RunRef.js';

export interface RunEvent {
  'run'?: (_dlphys_RunRef | null);
  'agent_id'?: (string);
}

export interface RunEvent__Output {
  'run': (_dlphys_RunRef__Output | null);
  'agent_id': (string);
}
