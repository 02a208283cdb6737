// Original file: proto/dlphys.proto

import type { RunRef as _dlphys_RunRef, RunRef__Output as _dlphys_RunRef__Output } from '../dlphys/RunRef.js';

export interface HeartbeatRequest {
  'agent_id'?: (string);
  /**
   * The runs this agent is executing (or finishing: uploading, reporting).
   */
  'runs'?: (_dlphys_RunRef)[];
}

export interface HeartbeatRequest__Output {
  'agent_id': (string);
  /**
   * The runs this agent is executing (or finishing: uploading, reporting).
   */
  'runs': (_dlphys_RunRef__Output)[];
}
