// Original file: proto/dlphys.proto

import type { SweepStatus as _dlphys_SweepStatus, SweepStatus__Output as _dlphys_SweepStatus__Output } from '../dlphys/SweepStatus.js';
import type { AgentStatus as _dlphys_AgentStatus, AgentStatus__Output as _dlphys_AgentStatus__Output } from '../dlphys/AgentStatus.js';
import type { RunStatus as _dlphys_RunStatus, RunStatus__Output as _dlphys_RunStatus__Output } from '../dlphys/RunStatus.js';
import type { CoordinatorHealth as _dlphys_CoordinatorHealth, CoordinatorHealth__Output as _dlphys_CoordinatorHealth__Output } from '../dlphys/CoordinatorHealth.js';
import type { SlurmJob as _dlphys_SlurmJob, SlurmJob__Output as _dlphys_SlurmJob__Output } from '../dlphys/SlurmJob.js';

export interface StatusReply {
  'sweeps'?: (_dlphys_SweepStatus)[];
  'agents'?: (_dlphys_AgentStatus)[];
  'runs'?: (_dlphys_RunStatus)[];
  'coordinator'?: (_dlphys_CoordinatorHealth | null);
  'slurm_jobs'?: (_dlphys_SlurmJob)[];
}

export interface StatusReply__Output {
  'sweeps': (_dlphys_SweepStatus__Output)[];
  'agents': (_dlphys_AgentStatus__Output)[];
  'runs': (_dlphys_RunStatus__Output)[];
  'coordinator': (_dlphys_CoordinatorHealth__Output | null);
  'slurm_jobs': (_dlphys_SlurmJob__Output)[];
}
