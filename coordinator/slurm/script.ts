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
 * The drain grace the agent is given (--drain-grace): the signal's own. slurmctld sends the
 * warning at its first check (every 30 s) at which the time left is under grace + 30 s, so it
 * comes early, never late; the agent keeps a share of the grace for uploads and reports itself
 * (agent/drain.ts GRACE_SHARE).
 */
export function drainGrace(signalGrace: number): number {
  return signalGrace;
}

/** The script's text (bash). Every value in it is a checked word (options.ts) or shell-quoted. */
export function sbatchScript(o: SlurmOptions, ctx: ScriptContext): string {
  const sbatch: [string, string][] = [
    [`--job-name=dlphys-${ctx.sweep}`, 'squeue and sacct show the sweep'],
    [`--array=0-${ctx.arraySize - 1}`, `${ctx.arraySize} agents, one per array task`],
    [`--output=${ctx.dir}/agent-%A_%a.log`, "each agent's log: %A the job, %a its task"],
    ['--open-mode=append', 'a requeued task adds to its log'],
    [`--signal=B:USR1@${o.signalGrace}`, `USR1 to this script ${o.signalGrace} s before the time limit: the agent drains`],
  ];
  if (o.time !== undefined) sbatch.push([`--time=${o.time}`, 'time limit of each task']);
  if (o.partition !== undefined) sbatch.push([`--partition=${o.partition}`, '']);
  if (o.account !== undefined) sbatch.push([`--account=${o.account}`, '']);
  if (o.qos !== undefined) sbatch.push([`--qos=${o.qos}`, '']);
  if (o.gpu === 'all') sbatch.push(['--ntasks=1', 'one agent per array task'], [`--gpus-per-task=${o.gpusPerTask ?? 1}`, 'the agent trains on every GPU it is given']);
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
    ...(o.modules.length + o.setup.length > 0 ? ['# A failing setup line stops the task before its agent starts.'] : []),
    ...(o.modules.length + o.setup.length > 0 ? ['set -e', ...o.modules.map((m) => `module load ${m}`), ...o.setup, 'set +e'] : []),
    '# The token is read from a file (readable by its owner only), never from the environment or a command line.',
    'unset DLPHYS_TOKEN',
    ...(ctx.tokenFile !== undefined ? [`export DLPHYS_TOKEN_FILE=${shellQuote(ctx.tokenFile)}`] : ['unset DLPHYS_TOKEN_FILE']),
    ...(o.gpu === 'all' ? [] : ['# A CPU agent trains as many runs at once as it was given CPUs.', 'slots=(--slots "${SLURM_CPUS_PER_TASK:-1}")']),
    '# Its work folder on the node: run folders wait there until they have landed on the coordinator.',
    'work="${TMPDIR:-/tmp}/dlphys-agent-${SLURM_JOB_ID}-$$"',
    '# USR1 is the time-limit warning (--signal above), sent to this script only: passed on, the agent',
    '# drains: it stops leasing, lets runs that end within its --drain-grace finish and land, and hands',
    '# back the rest. A TERM to this script (scancel, the limit itself, preemption) reached the agent',
    '# too (it drains at once): it is only noted here.',
    'warned=0',
    'ended=0',
    'agent=',
    `trap 'warned=1; [ -n "$agent" ] && kill -USR1 "$agent" 2>/dev/null' USR1`,
    "trap 'ended=1' TERM",
    `${agent.join(' ')} ${o.gpu === 'all' ? '' : '"${slots[@]}" '}--work-dir "$work" &`,
    'agent=$!',
    '# `wait` returns early whenever a trap runs: wait until the agent has exited, then take its status.',
    'while kill -0 "$agent" 2>/dev/null; do wait "$agent"; done',
    'wait "$agent"; rc=$?',
  ];
  if (o.requeue) {
    lines.push(
      '# Drained by the time-limit warning (and not cancelled): back into the queue for the runs the',
      '# sweep has left (an agent that finds none exits at once).',
      'if [ "$warned" = 1 ] && [ "$ended" = 0 ]; then scontrol requeue "${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"; fi',
    );
  }
  lines.push('exit "$rc"', '');
  return lines.join('\n');
}
