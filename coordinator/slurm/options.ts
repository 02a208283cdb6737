/**
 * The options of a SLURM job array of agents (`dlphys-coord sweep FILE --slurm ...`,
 * `dlphys-coord slurm SWEEP ...`), named after sbatch's own flags where one exists, so a SLURM
 * user reads them as they would read their own #SBATCH lines.
 */
import { Option, type Command } from 'commander';
import { UsageError } from '../../lib/errors.js';
import { collect, nonNegativeInt, positiveInt } from '../../lib/cli/flags.js';

export interface SlurmOptions {
  partition?: string;
  account?: string;
  qos?: string;
  /** sbatch --time: minutes, MM:SS, HH:MM:SS, D-HH[:MM[:SS]]. */
  time?: string;
  /** `all`: GPU agents (--gpu all), one GPU per task unless --gpus-per-task says more; `none`: CPU agents. */
  gpu: 'all' | 'none';
  gpusPerTask?: number;
  cpusPerTask?: number;
  /** sbatch --mem, e.g. 16G. */
  mem?: string;
  /** Array tasks (agents); default min(runs left, 32). */
  arraySize?: number;
  /** Seconds before the time limit at which SLURM sends TERM, and the agent drains. */
  signalGrace: number;
  /** Resubmit (requeue) a task that was drained by its time limit. */
  requeue: boolean;
  /** Passed through as `#SBATCH ARG`. */
  sbatchArgs: string[];
  /** `module load X` lines, in order, before the agent starts. */
  modules: string[];
  /** Shell lines run before the agent starts (conda activate, exports). */
  setup: string[];
  /** HOST:PORT at which compute nodes reach this coordinator. */
  advertise?: string;
}

/** Flags as commander hands them over (camelCase of the flags below). */
export interface SlurmFlags {
  partition?: string;
  account?: string;
  qos?: string;
  time?: string;
  gpu?: 'all' | 'none';
  gpusPerTask?: number;
  cpusPerTask?: number;
  mem?: string;
  arraySize?: number;
  signalGrace?: number;
  requeue?: boolean;
  sbatchArg?: string[];
  module?: string[];
  setup?: string[];
  advertise?: string;
}

/** Default seconds of warning before the time limit: SLURM may send the signal up to a minute early, and a drain needs time to land its runs. */
export const DEFAULT_SIGNAL_GRACE = 180;
/** Default largest array. */
export const MAX_DEFAULT_ARRAY = 32;

const TIME = /^(\d+-)?\d+(:\d{1,2}){0,2}$/;
/** sbatch flags the script sets itself (or an option of ours sets), which --sbatch-arg may not override. */
const OWN_FLAGS = new Set(['--array', '-a', '--output', '-o', '--error', '-e', '--open-mode', '--signal', '--job-name', '-J', '--clusters', '-M', '--wrap', '--export', '--time', '-t']);
/** --time must exceed --signal-grace by this much: the warning (up to 30 s early) comes at least 15 s after the start, once the agent listens for it. */
const MIN_WARNING_AFTER_S = 45;
const MEM = /^\d+[KMGT]?$/i;
/** A value that goes onto an #SBATCH line: one word, no quote or shell character. */
const WORD = /^[A-Za-z0-9._,:=@%+/-]+$/;

/**
 * sbatch --time in seconds: "minutes", "minutes:seconds", "hours:minutes:seconds", "days-hours",
 * "days-hours:minutes", "days-hours:minutes:seconds" (sbatch(1)). `t` matches TIME.
 */
export function timeSeconds(t: string): number {
  const [days, rest] = t.includes('-') ? [Number(t.split('-')[0]), t.split('-')[1]!] : [0, t];
  const parts = rest.split(':').map(Number);
  if (t.includes('-')) {
    const [h = 0, m = 0, s = 0] = parts;
    return ((days * 24 + h) * 60 + m) * 60 + s;
  }
  if (parts.length === 1) return parts[0]! * 60;
  if (parts.length === 2) return parts[0]! * 60 + parts[1]!;
  return (parts[0]! * 60 + parts[1]!) * 60 + parts[2]!;
}

/** Adds the SLURM flags to `cmd` (sweep with --slurm, and slurm). */
export function addSlurmOptions(cmd: Command): Command {
  return cmd
    .option('--partition <name>', 'sbatch --partition')
    .option('--account <name>', 'sbatch --account')
    .option('--qos <name>', 'sbatch --qos')
    .option('--time <limit>', 'sbatch --time per array task (e.g. 4:00:00, 1-00:00:00); agents drain before it')
    .addOption(new Option('--gpu <which>', 'all: GPU agents (one per task, --gpu all); none: CPU agents').choices(['all', 'none']))
    .option('--gpus-per-task <n>', 'sbatch --gpus-per-task (default 1 with --gpu all)', positiveInt('--gpus-per-task'))
    .option('--cpus-per-task <n>', 'sbatch --cpus-per-task (a CPU agent trains this many runs at once)', positiveInt('--cpus-per-task'))
    .option('--mem <size>', 'sbatch --mem per node, e.g. 16G')
    .option('--array-size <n>', 'agents (array tasks) to start (default: min(runs left, 32))', positiveInt('--array-size'))
    .option('--signal-grace <seconds>', `SLURM warns (USR1) this long before the time limit; the agent drains (default ${DEFAULT_SIGNAL_GRACE})`, nonNegativeInt('--signal-grace'))
    .option('--requeue', 'a task drained by its time limit requeues itself (sbatch --requeue)')
    .option('--sbatch-arg <arg>', 'one more #SBATCH line, passed through (repeatable), e.g. --sbatch-arg=--constraint=a100', collect)
    .option('--module <name>', 'a `module load NAME` line before the agent starts (repeatable)', collect)
    .option('--setup <command>', 'a shell line before the agent starts (repeatable), e.g. "source ~/venv/bin/activate"', collect)
    .option('--advertise <host:port>', "where compute nodes reach this coordinator (default: this host's name and the port)");
}

/**
 * SlurmOptions as a client sent them (SubmitSlurm's options_json), checked as the flags are.
 * UsageError (INVALID_ARGUMENT) for anything else.
 */
export function parseSlurmOptionsJson(json: string): SlurmOptions {
  let o: Partial<SlurmOptions>;
  try {
    o = JSON.parse(json) as Partial<SlurmOptions>;
  } catch {
    throw new UsageError('options_json is not JSON');
  }
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new UsageError('options_json must be a JSON object');
  const strings = (v: unknown, what: string) => {
    if (v !== undefined && (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))) throw new UsageError(`${what} must be a list of strings`);
    return v as string[] | undefined;
  };
  const str = (v: unknown, what: string) => {
    if (v !== undefined && typeof v !== 'string') throw new UsageError(`${what} must be a string`);
    return v as string | undefined;
  };
  const int = (v: unknown, what: string, min: number) => {
    if (v !== undefined && (!Number.isSafeInteger(v) || (v as number) < min)) throw new UsageError(`${what} must be an integer >= ${min}`);
    return v as number | undefined;
  };
  const flags: SlurmFlags = {};
  const set = <K extends keyof SlurmFlags>(k: K, v: SlurmFlags[K] | undefined) => {
    if (v !== undefined) flags[k] = v;
  };
  set('partition', str(o.partition, 'partition'));
  set('account', str(o.account, 'account'));
  set('qos', str(o.qos, 'qos'));
  set('time', str(o.time, 'time'));
  if (o.gpu !== undefined && o.gpu !== 'all' && o.gpu !== 'none') throw new UsageError('gpu must be "all" or "none"');
  set('gpu', o.gpu);
  if (o.gpu === 'all') set('gpusPerTask', int(o.gpusPerTask, 'gpusPerTask', 1));
  set('cpusPerTask', int(o.cpusPerTask, 'cpusPerTask', 1));
  set('mem', str(o.mem, 'mem'));
  set('arraySize', int(o.arraySize, 'arraySize', 1));
  set('signalGrace', int(o.signalGrace, 'signalGrace', 0));
  if (o.requeue !== undefined && typeof o.requeue !== 'boolean') throw new UsageError('requeue must be true or false');
  set('requeue', o.requeue);
  set('sbatchArg', strings(o.sbatchArgs, 'sbatchArgs'));
  set('module', strings(o.modules, 'modules'));
  set('setup', strings(o.setup, 'setup'));
  set('advertise', str(o.advertise, 'advertise'));
  return slurmOptions(flags);
}

/** True when any SLURM flag was given (the sweep command refuses them without --slurm). */
export function anySlurmFlag(flags: SlurmFlags): boolean {
  return Object.entries(flags).some(([k, v]) => SLURM_KEYS.has(k) && v !== undefined && !(Array.isArray(v) && v.length === 0));
}

const SLURM_KEYS = new Set(['partition', 'account', 'qos', 'time', 'gpu', 'gpusPerTask', 'cpusPerTask', 'mem', 'arraySize', 'signalGrace', 'requeue', 'sbatchArg', 'module', 'setup', 'advertise']);

/**
 * The options from the flags, checked: a value that would break the script's #SBATCH lines or
 * that sbatch would refuse is a UsageError naming the flag and the fix.
 */
export function slurmOptions(flags: SlurmFlags): SlurmOptions {
  const word = (flag: string, value: string | undefined) => {
    if (value !== undefined && !WORD.test(value)) throw new UsageError(`${flag} ${JSON.stringify(value)}: give one word (letters, digits and . _ , : = @ % + / -)`);
    return value;
  };
  word('--partition', flags.partition);
  word('--account', flags.account);
  word('--qos', flags.qos);
  if (flags.time !== undefined && !TIME.test(flags.time)) throw new UsageError(`--time ${JSON.stringify(flags.time)}: use minutes, MM:SS, HH:MM:SS or D-HH:MM:SS as sbatch does (e.g. 4:00:00)`);
  if (flags.mem !== undefined && !MEM.test(flags.mem)) throw new UsageError(`--mem ${JSON.stringify(flags.mem)}: use a size such as 16G or 4000M, as sbatch does`);
  const gpu = flags.gpu ?? 'none';
  if (gpu === 'none' && flags.gpusPerTask !== undefined) throw new UsageError('--gpus-per-task needs --gpu all (the agents would not use the GPUs)');
  for (const arg of flags.sbatchArg ?? []) {
    if (!arg.startsWith('-') || /[\n\r]/.test(arg)) throw new UsageError(`--sbatch-arg ${JSON.stringify(arg)}: give one sbatch flag, e.g. --sbatch-arg=--constraint=a100`);
    const name = arg.split('=')[0]!;
    if (OWN_FLAGS.has(name) || /^-[aoeJMt]./.test(arg)) throw new UsageError(`--sbatch-arg ${JSON.stringify(arg)}: the script sets ${name} itself (the array, its logs, the time limit and its signal, the job's name and environment; use --time for the limit)`);
  }
  for (const [flag, lines] of [['--module', flags.module], ['--setup', flags.setup]] as const) {
    for (const line of lines ?? []) if (/[\n\r]/.test(line) || line.trim() === '') throw new UsageError(`${flag}: give one non-empty line per ${flag}`);
  }
  for (const name of flags.module ?? []) word('--module', name);
  if (flags.advertise !== undefined && !/^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(flags.advertise)) {
    throw new UsageError(`--advertise ${JSON.stringify(flags.advertise)}: give HOST:PORT, the address compute nodes use to reach this coordinator`);
  }
  const signalGrace = flags.signalGrace ?? DEFAULT_SIGNAL_GRACE;
  // slurmctld warns at its first 30 s check once less than grace + 30 s is left: the warning must
  // not come before the agent has started (0: no limit).
  if (flags.time !== undefined && timeSeconds(flags.time) > 0 && timeSeconds(flags.time) < signalGrace + MIN_WARNING_AFTER_S) {
    throw new UsageError(`--time ${flags.time} (${timeSeconds(flags.time)} s) leaves no room for --signal-grace ${signalGrace}: SLURM warns up to 30 s early, and the agents need ${MIN_WARNING_AFTER_S - 30} s to start; give a --time of at least ${signalGrace + MIN_WARNING_AFTER_S} s or a shorter --signal-grace`);
  }
  return {
    ...(flags.partition !== undefined ? { partition: flags.partition } : {}),
    ...(flags.account !== undefined ? { account: flags.account } : {}),
    ...(flags.qos !== undefined ? { qos: flags.qos } : {}),
    ...(flags.time !== undefined ? { time: flags.time } : {}),
    gpu,
    ...(gpu === 'all' ? { gpusPerTask: flags.gpusPerTask ?? 1 } : {}),
    ...(flags.cpusPerTask !== undefined ? { cpusPerTask: flags.cpusPerTask } : {}),
    ...(flags.mem !== undefined ? { mem: flags.mem } : {}),
    ...(flags.arraySize !== undefined ? { arraySize: flags.arraySize } : {}),
    signalGrace,
    requeue: flags.requeue ?? false,
    sbatchArgs: flags.sbatchArg ?? [],
    modules: flags.module ?? [],
    setup: flags.setup ?? [],
    ...(flags.advertise !== undefined ? { advertise: flags.advertise } : {}),
  };
}
