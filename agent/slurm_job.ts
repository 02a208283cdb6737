/**
 * The SLURM job this agent runs in, as squeue names it ("<array job>_<task>" for an array task,
 * else the job id); '' outside SLURM. The coordinator links the agent to the job's task with it.
 */
export function slurmJob(env: NodeJS.ProcessEnv = process.env): string {
  const { SLURM_ARRAY_JOB_ID: array, SLURM_ARRAY_TASK_ID: task, SLURM_JOB_ID: job } = env;
  if (array && task && /^\d+$/.test(array) && /^\d+$/.test(task)) return `${array}_${task}`;
  return job && /^\d+$/.test(job) ? job : '';
}
