// Original file: proto/dlphys.proto


export interface SlurmTask {
  'task_id'?: (string);
  /**
   * SLURM's state name: PENDING, RUNNING, COMPLETING, COMPLETED, CANCELLED, TIMEOUT, FAILED, ...
   */
  'state'?: (string);
  /**
   * Why it is pending (squeue %r: Resources, Priority, ...); empty otherwise.
   */
  'reason'?: (string);
  'node'?: (string);
}

export interface SlurmTask__Output {
  'task_id': (string);
  /**
   * SLURM's state name: PENDING, RUNNING, COMPLETING, COMPLETED, CANCELLED, TIMEOUT, FAILED, ...
   */
  'state': (string);
  /**
   * Why it is pending (squeue %r: Resources, Priority, ...); empty otherwise.
   */
  'reason': (string);
  'node': (string);
}
