// Original file: proto/dlphys.proto


export interface RegisterRequest {
  'agent_id'?: (string);
  'host'?: (string);
  'gpus'?: (string)[];
  'slots'?: (number);
  'version'?: (string);
  'backend'?: (string);
  /**
   * The contract version the agent speaks (PROTOCOL_VERSION in proto/wire.ts); another one is
   * refused with FAILED_PRECONDITION.
   */
  'protocol'?: (number);
  /**
   * The SLURM job the agent runs in ("<array job>_<task>", or the job id), empty outside SLURM.
   */
  'slurm_job'?: (string);
}

export interface RegisterRequest__Output {
  'agent_id': (string);
  'host': (string);
  'gpus': (string)[];
  'slots': (number);
  'version': (string);
  'backend': (string);
  /**
   * The contract version the agent speaks (PROTOCOL_VERSION in proto/wire.ts); another one is
   * refused with FAILED_PRECONDITION.
   */
  'protocol': (number);
  /**
   * The SLURM job the agent runs in ("<array job>_<task>", or the job id), empty outside SLURM.
   */
  'slurm_job': (string);
}
