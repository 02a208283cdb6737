/**
 * The sbatch script of a job array of agents: one `dlphys-agent` per array task, reaching the
 * coordinator at the advertised address, draining when SLURM warns of the time limit. Every
 * generated line carries a comment saying what it does (the README shows one), because a user
 * who submits it should be able to read it as their own.
 */
import { shellQuote } from '../../lib/sweep/program_command.js';
import type { SlurmOptions } from './options.js';

/** Where and how the agents run, decided by the coordinator. */
export interface ScriptContext {
  sweep: string;
  /** Array tasks. */
  arraySize: number;
  /** HOST:PORT for the agents. */
  coord: string;
  /** The token file the agents read (never the token itself), if the coordinator has a token. */
  tokenFile?: string;
  /** The folder of the script and its tasks' logs. */
  dir: string;
  /** The Node.js binary and the agent's entry point, absolute (a shared file system, as on most clusters). */
  node: string;
  agentBin: string;
  /** What generated it, for its first lines. */
  version: string;
}

/**
 * slurmctld checks time limits and warning signals every 30 s (PERIODIC_TIMEOUT in its source):
 * the warning may come this long after it was due, leaving the agent that much less time.
 */
export const SIGNAL_LATENESS_S = 30;

/**
 * The drain grace the agent is given (--drain-grace): the signal's grace less how late it may
 * come, never below a third of it. The agent keeps a share of its grace for uploads and reports
 * itself (agent/drain.ts GRACE_SHARE).
 */
export function drainGrace(signalGrace: number): number {
  return Math.max(Math.round(signalGrace / 3), signalGrace - SIGNAL_LATENESS_S);
}

/** The script's text (bash). Every value in it is a checked word (options.ts) or shell-quoted. */
export function sbatchScript(o: SlurmOptions, ctx: ScriptContext): string {
  const sbatch: [string, string][] = [
    [`--job-name=dlphys-${ctx.sweep}`, 'squeue and sacct show the sweep'],
    [`--array=0-${ctx.arraySize - 1}`, `${ctx.arraySize} agents, one per array task`],
    [`--output=${ctx.dir}/agent-%A_%a.log`, "each agent's log: %A the job, %a its task"],
    [`--signal=B:TERM@${o.signalGrace}`, `TERM to this script ${o.signalGrace} s before the time limit: the agent drains`],
  ];
  if (o.time !== undefined) sbatch.push([`--time=${o.time}`, 'time limit of each task']);
  if (o.partition !== undefined) sbatch.push([`--partition=${o.partition}`, '']);
  if (o.account !== undefined) sbatch.push([`--account=${o.account}`, '']);
  if (o.qos !== undefined) sbatch.push([`--qos=${o.qos}`, '']);
  if (o.gpu === 'all') sbatch.push([`--gpus-per-task=${o.gpusPerTask ?? 1}`, 'the agent trains on every GPU it is given']);
  if (o.cpusPerTask !== undefined) sbatch.push([`--cpus-per-task=${o.cpusPerTask}`, o.gpu === 'all' ? '' : 'a CPU agent trains this many runs at once']);
  if (o.mem !== undefined) sbatch.push([`--mem=${o.mem}`, '']);
  if (o.requeue) sbatch.push(['--requeue', 'a task drained by its time limit may be requeued (below)']);
  for (const arg of o.sbatchArgs) sbatch.push([arg, 'passed through (--sbatch-arg)']);
  // SLURM reads #SBATCH lines up to the first command: a comment on the same line is not allowed,
  // so each line's comment goes above it.
  const header = sbatch.flatMap(([flag, why]) => [...(why ? [`# ${why}`] : []), `#SBATCH ${flag}`]);

  const agent = [
    ctx.node,
    ctx.agentBin,
    '--coord',
    ctx.coord,
    ...(o.gpu === 'all' ? ['--gpu', 'all'] : []),
    '--exit-when-idle',
    '--drain-grace',
    String(drainGrace(o.signalGrace)),
  ].map(shellQuote);
  const lines = [
    '#!/bin/bash',
    `# Agents for dlphys sweep ${ctx.sweep}, written by dlphys-coord ${ctx.version}.`,
    `# Submitted with sbatch; \`dlphys-coord cancel ${ctx.sweep}\` cancels it (scancel).`,
    ...header,
    '',
    '# Unset variables are mistakes; a failing setup line stops the task before its agent starts.',
    'set -eu',
    ...o.modules.map((m) => `module load ${m}`),
    ...o.setup,
    'set +e',
    ...(ctx.tokenFile !== undefined ? ['# The token is read from this file (readable by its owner only), never put on a command line.', `export DLPHYS_TOKEN_FILE=${shellQuote(ctx.tokenFile)}`] : []),
    '# A CPU agent trains as many runs at once as it was given CPUs.',
    ...(o.gpu === 'all' ? [] : ['slots=(--slots "${SLURM_CPUS_PER_TASK:-1}")']),
    '# Its work folder on the node: run folders wait there until they have landed on the coordinator.',
    'work="${TMPDIR:-/tmp}/dlphys-agent-${SLURM_JOB_ID}"',
    `${agent.join(' ')} ${o.gpu === 'all' ? '' : '"${slots[@]}" '}--work-dir "$work" &`,
    'agent=$!',
    '# The time-limit warning (--signal above) comes to this script: pass it on to the agent, which',
    '# stops leasing, lets runs that end within its --drain-grace finish and land, and hands back the rest.',
    'warned=0',
    "trap 'warned=1; kill -TERM \"$agent\" 2>/dev/null' TERM",
    '# `wait` returns when the trap runs: wait again until the agent has exited.',
    'while :; do',
    '  wait "$agent"; rc=$?',
    '  kill -0 "$agent" 2>/dev/null || break',
    'done',
  ];
  if (o.requeue) {
    lines.push(
      '# Drained by the time limit: back into the queue, for the runs the sweep has left (an agent that',
      '# finds none exits at once).',
      'if [ "$warned" = 1 ]; then scontrol requeue "${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"; fi',
    );
  }
  lines.push('exit "$rc"', '');
  return lines.join('\n');
}
