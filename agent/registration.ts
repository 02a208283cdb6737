import os from 'node:os';
import { version } from '../lib/version.js';
import type { RegisterRequest } from '../proto/generated/dlphys/RegisterRequest.js';
import { PROTOCOL_VERSION } from '../proto/wire.js';
import type { AgentOptions } from './agent_options.js';

/** What an agent tells the coordinator of itself when it registers: its host, GPUs, slots, versions and SLURM task. */
export function registerRequest(id: string, opts: Pick<AgentOptions, 'gpus' | 'slots' | 'backend'>): RegisterRequest {
  return { agent_id: id, host: os.hostname(), gpus: opts.gpus, slots: opts.slots, version, backend: opts.backend, protocol: PROTOCOL_VERSION, slurm_job: slurmJob() };
}

/**
 * The SLURM job this agent runs in, as squeue names it ("<array job>_<task>" for an array task,
 * else the job id); '' outside SLURM. The coordinator links the agent to the job's task with it.
 */
export function slurmJob(env: NodeJS.ProcessEnv = process.env): string {
  const { SLURM_ARRAY_JOB_ID: array, SLURM_ARRAY_TASK_ID: task, SLURM_JOB_ID: job } = env;
  if (array && task && /^\d+$/.test(array) && /^\d+$/.test(task)) return `${array}_${task}`;
  return job && /^\d+$/.test(job) ? job : '';
}
