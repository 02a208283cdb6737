// Original file: proto/dlphys.proto

import type { SlurmTask as _dlphys_SlurmTask, SlurmTask__Output as _dlphys_SlurmTask__Output } from '../dlphys/SlurmTask.js';

/**
 * A SLURM job array of agents the coordinator submitted (dlphys-coord sweep --slurm, dlphys-coord slurm).
 */
export interface SlurmJob {
  'job_id'?: (string);
  'sweep'?: (string);
  'array_size'?: (number);
  /**
   * The sbatch script it was submitted with.
   */
  'script'?: (string);
  'submitted_at'?: (string);
  /**
   * What squeue (or sacct) last said of each array task; a task that left the queue without
   * accounting to ask is "ENDED".
   */
  'tasks'?: (_dlphys_SlurmTask)[];
  /**
   * The last squeue/sacct/scancel failure, empty when the last poll worked.
   */
  'error'?: (string);
}

/**
 * A SLURM job array of agents the coordinator submitted (dlphys-coord sweep --slurm, dlphys-coord slurm).
 */
export interface SlurmJob__Output {
  'job_id': (string);
  'sweep': (string);
  'array_size': (number);
  /**
   * The sbatch script it was submitted with.
   */
  'script': (string);
  'submitted_at': (string);
  /**
   * What squeue (or sacct) last said of each array task; a task that left the queue without
   * accounting to ask is "ENDED".
   */
  'tasks': (_dlphys_SlurmTask__Output)[];
  /**
   * The last squeue/sacct/scancel failure, empty when the last poll worked.
   */
  'error': (string);
}
