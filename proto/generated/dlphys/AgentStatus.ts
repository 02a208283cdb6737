// Original file: proto/dlphys.proto

import type { HostHealth as _dlphys_HostHealth, HostHealth__Output as _dlphys_HostHealth__Output } from '../dlphys/HostHealth.js';

export interface AgentStatus {
  'id'?: (string);
  'host'?: (string);
  'gpus'?: (string)[];
  'slots'?: (number);
  'last_heartbeat'?: (string);
  'alive'?: (boolean);
  'running'?: (number);
  /**
   * alive | lost (not heard from for 2 lease TTLs) | left (said goodbye) | quarantined (lost runs
   * repeatedly: no new leases until quarantined_until).
   */
  'state'?: (string);
  'quarantined_until'?: (string);
  /**
   * Attempts of this agent whose lease expired.
   */
  'lost_runs'?: (number);
  /**
   * The latest health its heartbeats carried (absent until one did).
   */
  'health'?: (_dlphys_HostHealth | null);
  /**
   * The SLURM job it runs in ("<array job>_<task>"), empty outside SLURM.
   */
  'slurm_job'?: (string);
}

export interface AgentStatus__Output {
  'id': (string);
  'host': (string);
  'gpus': (string)[];
  'slots': (number);
  'last_heartbeat': (string);
  'alive': (boolean);
  'running': (number);
  /**
   * alive | lost (not heard from for 2 lease TTLs) | left (said goodbye) | quarantined (lost runs
   * repeatedly: no new leases until quarantined_until).
   */
  'state': (string);
  'quarantined_until': (string);
  /**
   * Attempts of this agent whose lease expired.
   */
  'lost_runs': (number);
  /**
   * The latest health its heartbeats carried (absent until one did).
   */
  'health': (_dlphys_HostHealth__Output | null);
  /**
   * The SLURM job it runs in ("<array job>_<task>"), empty outside SLURM.
   */
  'slurm_job': (string);
}
