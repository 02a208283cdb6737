// Original file: proto/dlphys.proto

import type { RunRef as _dlphys_RunRef, RunRef__Output as _dlphys_RunRef__Output } from '../dlphys/RunRef.js';
import type { HostHealth as _dlphys_HostHealth, HostHealth__Output as _dlphys_HostHealth__Output } from '../dlphys/HostHealth.js';

export interface HeartbeatRequest {
  'agent_id'?: (string);
  /**
   * The runs this agent is executing (or finishing: uploading, reporting).
   */
  'runs'?: (_dlphys_RunRef)[];
  /**
   * The host's load when the heartbeat was sent; the coordinator keeps the latest per agent.
   */
  'health'?: (_dlphys_HostHealth | null);
}

export interface HeartbeatRequest__Output {
  'agent_id': (string);
  /**
   * The runs this agent is executing (or finishing: uploading, reporting).
   */
  'runs': (_dlphys_RunRef__Output)[];
  /**
   * The host's load when the heartbeat was sent; the coordinator keeps the latest per agent.
   */
  'health': (_dlphys_HostHealth__Output | null);
}
