/**
 * Chaos soak of the sweep orchestrator, with real processes on 127.0.0.1: a coordinator whose
 * runs dir is a small tmpfs, 4 one-slot agents (two of them share one --work-dir), and on a seeded
 * schedule: kill -9 of an agent (a new one takes its place), kill -9 of the coordinator (started
 * again with `dlphys-coord serve` on the same --db, --runs-dir and port), an agent that flaps
 * (SIGSTOP for longer than the lease TTL, then SIGCONT, again and again), and the runs dir filled
 * up for a while midway, then freed. Then everything is left alone until every run has ended (or a
 * deadline), and the database and the landed folders are checked against each other:
 *
 *   completed+landed  state completed, one completed attempt, and <runs-dir>/<run>/ holds config.json,
 *                     metrics.jsonl and summary.json, metrics.jsonl being exactly the metric rows of
 *                     the run's final attempt and summary.json the summary the database recorded;
 *   lost              trained to the end but not landed whole (completed without its folder, or
 *                     failed because its upload was refused), or failed because it was lost
 *                     --max-attempts times;
 *   duplicated        more than one completed attempt, metric rows of one attempt with the same seq
 *                     or the same line twice, or a landed folder that disagrees with the database.
 *
 * Usage: npm run bench:chaos [-- --runs 60 --seconds 240 --seed 1 --steps 2000 --agents 4 --logs DIR]
 * (the defaults take about 5 minutes on 2 busy cores: faults stop early once every run has ended,
 * so --runs should keep the agents busy for --seconds). Prints the schedule, what happened, a
 * table of the runs and one JSON line; --logs DIR keeps every process's log. Needs root for the
 * tmpfs (without it the disk-full fault is skipped, and it says so). Ctrl-C stops every process,
 * unmounts the tmpfs and removes the temp dir. test/chaos.test.ts runs a short one (DLPHYS_CHAOS=1).
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { childPids, isRunning, openDb, tinySweep, type Proc } from '../test/cluster.js';
import { repoRoot, writeJson } from '../test/helpers.js';

export interface ChaosOptions {
  /** Runs in the sweep. @default 60 */
  runs?: number;
  /** How long faults are injected (they stop earlier when every run has ended). @default 240 */
  seconds?: number;
  seed?: number;
  /** Training steps of each run (2000: about 1.5 s of one core, more on a busy machine). @default 2000 */
  steps?: number;
  /** Agents, one slot each; the 2nd and 3rd share a --work-dir, the 3rd flaps. At least 3. @default 4 */
  agents?: number;
  /** --lease-ttl of the coordinator, seconds. @default 3 */
  leaseTtl?: number;
  /** --max-attempts of the coordinator. @default 25 */
  maxAttempts?: number;
  /** Size of the tmpfs runs dir, MiB. @default 32 */
  tmpfsMb?: number;
  /** After the faults, how long to wait for every run to end, seconds. @default 180 */
  drainSeconds?: number;
  /** Write every process's log here at the end (a folder; created). */
  logsDir?: string;
  log?: (line: string) => void;
}

export type Verdict = 'ok' | 'lost-not-landed' | 'lost-max-attempts' | 'failed-other' | 'unfinished' | 'other';

export interface RunReport {
  id: string;
  state: string;
  attempt: number;
  /** Outcome of every attempt, in order (null: still held). */
  outcomes: (string | null)[];
  lostAttempts: number;
  completedAttempts: number;
  /** Metric rows of the final attempt in the database. */
  metricRows: number;
  /** Lines of the landed metrics.jsonl (null: no such file). */
  landedLines: number | null;
  landed: 'whole' | 'missing' | 'partial';
  verdict: Verdict;
  duplicated: boolean;
  /** What is wrong with the run, one phrase each. */
  problems: string[];
  error: string | null;
}

export interface ChaosResult {
  seed: number;
  runs: number;
  seconds: number;
  completedLanded: number;
  /** Runs whose state is completed, whatever their folder. */
  completed: number;
  /** Completed runs whose folder is not whole or does not match the database. */
  completedNotLandedWhole: number;
  lost: number;
  lostNotLanded: number;
  lostMaxAttempts: number;
  failedOther: number;
  unfinished: number;
  other: number;
  duplicated: number;
  attemptsLost: number;
  /** run id -> lost attempts, for runs that lost any. */
  attemptsLostPerRun: Record<string, number>;
  /** Errors the database recorded for runs that did not complete. */
  errors: Record<string, string>;
  coordPeakRssMb: number;
  faults: { agentKills: number; coordKills: number; flaps: number; diskFullSeconds: number; diskFault: 'done' | 'skipped' };
  /** Agents that exited without being killed (refused to start, crashed), with their last log line. */
  agentExits: string[];
  /** Folders and files under the runs dir that no completed run accounts for. */
  strays: string[];
  wallSeconds: number;
  reports: RunReport[];
}

const SWEEP = 'chaos';

/** mulberry32: a small seeded PRNG, so one seed always gives the same schedule. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Fault =
  | { kind: 'disk-fill' }
  | { kind: 'disk-free'; waiting?: boolean }
  | { kind: 'coord-kill'; downFor: number }
  | { kind: 'coord-start' }
  | { kind: 'agent-kill'; slot: number; restartAfter: number }
  | { kind: 'agent-start'; slot: number }
  | { kind: 'agent-stop'; slot: number; stopFor: number }
  | { kind: 'agent-cont'; slot: number; pid?: number };
type Scheduled = Fault & { at: number };

/** The faults of one soak, in time order (seconds after the faults begin). */
export function schedule(seed: number, seconds: number, agents: number, leaseTtl: number, disk: boolean): Scheduled[] {
  const r = rng(seed);
  const out: Scheduled[] = [];
  if (disk) {
    const at = seconds * (0.3 + 0.15 * r());
    const len = seconds * (0.15 + 0.1 * r());
    out.push({ at, kind: 'disk-fill' }, { at: at + len, kind: 'disk-free' });
  }
  const coordKills = Math.max(1, Math.round(seconds / 50));
  for (let i = 0; i < coordKills; i++) {
    out.push({ at: (seconds * (i + 0.2 + 0.6 * r())) / coordKills, kind: 'coord-kill', downFor: 0.5 + 2.5 * r() });
  }
  const agentKills = Math.max(2, Math.round(seconds / 20));
  for (let i = 0; i < agentKills; i++) {
    out.push({ at: (seconds * (i + 0.1 + 0.8 * r())) / agentKills, kind: 'agent-kill', slot: Math.floor(r() * agents), restartAfter: 0.5 + 2 * r() });
  }
  // The 3rd agent flaps: stopped for 1.5-2.5 lease TTLs, then left to run 3-8 s.
  for (let t = 3 + 3 * r(); t < seconds; ) {
    const stopFor = leaseTtl * (1.5 + r());
    if (t + stopFor > seconds) break;
    out.push({ at: t, kind: 'agent-stop', slot: 2, stopFor });
    t += stopFor + 3 + 5 * r();
  }
  return out.sort((a, b) => a.at - b.at);
}

interface Slot {
  index: number;
  workDir: string;
  proc: Proc | null;
  /** Generation: a replacement agent gets the next one (for the logs). */
  gen: number;
  /** Refused to start or crashed: no replacement, no faults. */
  dead: boolean;
  /** This bench killed (or is stopping) the current agent: its exit is no news. */
  killed: boolean;
  /** The pid this bench stopped with SIGSTOP and has not continued yet. */
  stoppedPid: number | null;
  /** The current agent's own exit has been logged. */
  reportedExit: boolean;
}

function procStatusKb(pid: number, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function isRunner(pid: number): boolean {
  try {
    return /runner_entry|runner\.generated\.mjs/.test(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return false;
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

type CoordProc = Proc & { port: number };

const lastLine = (text: string) => text.trim().split('\n').at(-1) ?? '';

/** The CPUs this process may run on (Cpus_allowed_list), e.g. [0, 1]. */
function allowedCpus(): number[] {
  try {
    const list = /^Cpus_allowed_list:\s*(.+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]!;
    return list.split(',').flatMap((part) => {
      const [a, b] = part.split('-').map(Number);
      return Array.from({ length: (b ?? a!) - a! + 1 }, (_, i) => a! + i);
    });
  } catch {
    return [];
  }
}

/**
 * `bin/<bin> ...args` (like test/cluster.ts does, but the pid is known at once, for the clean-up),
 * pinned to one CPU when `cpu` is given. A CPU-only agent gives each run cores / slots wasm
 * threads; pinned, that is 1, so four one-slot agents on a 2-core machine do not start eight
 * spinning threads (with 2 threads each, 4 runs at once took 3x as long as with 1).
 */
function startProc(bin: 'dlphys-coord.js' | 'dlphys-agent.js', args: string[], cpu: number | null = null): Proc {
  const nodeArgs = [path.join(repoRoot, 'bin', bin), ...args];
  const [cmd, argv] = cpu === null ? [process.execPath, nodeArgs] : ['taskset', ['-c', String(cpu), process.execPath, ...nodeArgs]];
  // taskset execs node, so the pid is the agent's.
  const child = spawn(cmd, argv, { cwd: repoRoot, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return { child, log: () => out, exited, kill: (signal = 'SIGTERM') => child.kill(signal) };
}

export async function runChaos(options: ChaosOptions = {}): Promise<ChaosResult> {
  const nRuns = options.runs ?? 60;
  const seconds = options.seconds ?? 240;
  const seed = options.seed ?? 1;
  const steps = options.steps ?? 2000;
  const nAgents = Math.max(3, options.agents ?? 4);
  const leaseTtl = options.leaseTtl ?? 3;
  const maxAttempts = options.maxAttempts ?? 25;
  const tmpfsMb = options.tmpfsMb ?? 32;
  const drainSeconds = options.drainSeconds ?? 180;
  const t0 = Date.now();
  const stamp = () => `[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s]`;
  const log = (line: string) => (options.log ?? ((l: string) => process.stderr.write(l + '\n')))(`${stamp()} ${line}`);

  // Workspace: db and agents' work dirs on the ordinary disk, the runs dir on a small tmpfs.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlphys-chaos-'));
  const db = path.join(dir, 'dlphys.db');
  const runsDir = path.join(dir, 'runs');
  fs.mkdirSync(runsDir);
  let mounted = false;
  const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${tmpfsMb}m`, 'tmpfs', runsDir], { encoding: 'utf8' });
  if (mount.status === 0) {
    mounted = true;
    log(`runs dir ${runsDir}: tmpfs of ${tmpfsMb} MiB`);
  } else {
    log(`cannot mount a tmpfs on the runs dir (${(mount.stderr || mount.error?.message || `exit ${mount.status}`).trim()}): skipping the disk-full fault`);
  }
  const filler = path.join(runsDir, 'filler.bin');

  const sweep = tinySweep({ name: SWEEP, runs: nRuns, steps, logEvery: 50 });
  (sweep.base as { train: Record<string, unknown> }).train = { steps, batch_size: 32, eval_every: 500, log_every: 50 };
  const sweepFile = writeJson(path.join(dir, 'sweep.json'), sweep);
  const coordFlags = ['--db', db, '--runs-dir', runsDir, '--lease-ttl', String(leaseTtl), '--max-attempts', String(maxAttempts)];

  // Everything started, for the clean-up (which also runs on Ctrl-C).
  const coords: Proc[] = [];
  const agentProcs: Proc[] = [];
  const agentLabels = new Map<Proc, string>();
  const runnerPids = new Set<number>();
  let coord = null as CoordProc | null;
  let coordStarting: Promise<void> | null = null;
  /** A failure of a coordinator start in the background, thrown by the main loop. */
  let fatal: Error | null = null;
  let coordPort = 0;
  let coordKilled = false;
  let peakRssKb = 0;
  let cleaned = false;
  const cleanUp = (): void => {
    if (cleaned) return;
    cleaned = true;
    for (const p of [...agentProcs, ...coords]) {
      if (p.child.exitCode === null && p.child.signalCode === null) p.kill('SIGKILL');
    }
    for (const pid of runnerPids) if (isRunning(pid) && isRunner(pid)) process.kill(pid, 'SIGKILL');
    if (mounted) {
      // The coordinator may hold files there for a moment after SIGKILL.
      for (let i = 0; i < 50; i++) {
        const u = spawnSync('umount', [runsDir], { encoding: 'utf8' });
        if (u.status === 0) {
          mounted = false;
          break;
        }
        sleepSync(100);
      }
      if (mounted && spawnSync('umount', ['-l', runsDir]).status === 0) mounted = false;
      if (mounted) process.stderr.write(`chaos: could not unmount ${runsDir}; run: umount ${runsDir}\n`);
    }
    if (!mounted) fs.rmSync(dir, { recursive: true, force: true });
  };
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`\n${signal}: stopping every process, unmounting, removing ${dir}\n`);
    cleanUp();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const states = (): Record<string, string> => {
    if (!fs.existsSync(db)) return {};
    const h = openDb(db);
    try {
      return Object.fromEntries((h.prepare('SELECT id, state FROM runs').all() as { id: string; state: string }[]).map((r) => [r.id, r.state]));
    } finally {
      h.close();
    }
  };
  const allEnded = () => {
    const s = Object.values(states());
    return s.length === nRuns && s.every((x) => ['completed', 'diverged', 'failed', 'cancelled'].includes(x));
  };

  const faults = { agentKills: 0, coordKills: 0, flaps: 0, diskFullSeconds: 0, diskFault: (mounted ? 'done' : 'skipped') as 'done' | 'skipped' };
  const agentExits: string[] = [];
  let diskFullSince = 0;
  /** Attempts reported (ended other than by a lost lease) when the disk filled up. */
  let reportsAtFill = 0;
  const reportedAttempts = (): number => {
    const h = openDb(db);
    try {
      return (h.prepare("SELECT count(*) AS n FROM attempts WHERE ended_at IS NOT NULL AND outcome <> 'lost'").get() as { n: number }).n;
    } finally {
      h.close();
    }
  };

  const slots: Slot[] = Array.from({ length: nAgents }, (_, i) => ({
    index: i,
    // Agents 1 and 2 share a home directory.
    workDir: path.join(dir, 'agents', i === 1 || i === 2 ? 'shared' : `own-${i}`),
    proc: null,
    gen: 0,
    dead: false,
    killed: false,
    stoppedPid: null,
    reportedExit: false,
  }));
  const label = (s: Slot) => `agent ${s.index}${s.gen > 1 ? `.${s.gen}` : ''}${s.index === 1 || s.index === 2 ? ' (shared work dir)' : ''}${s.index === 2 ? ' (flapper)' : ''}`;
  const cpus = allowedCpus();
  const alive = (p: Proc | null): p is Proc => p !== null && p.child.exitCode === null && p.child.signalCode === null;

  const startSlot = (s: Slot): void => {
    if (!coordPort) throw new Error('no coordinator port yet');
    fs.mkdirSync(s.workDir, { recursive: true });
    s.gen++;
    s.killed = false;
    s.reportedExit = false;
    s.stoppedPid = null;
    const cpu = cpus.length > 1 ? cpus[s.index % cpus.length]! : null;
    s.proc = startProc('dlphys-agent.js', ['--coord', `127.0.0.1:${coordPort}`, '--slots', '1', '--poll', '100', '--upload-every', '2', '--work-dir', s.workDir], cpu);
    agentProcs.push(s.proc);
    agentLabels.set(s.proc, `agent-${s.index}.${s.gen}`);
    log(`started ${label(s)}: pid ${s.proc.child.pid}, --work-dir ${path.relative(dir, s.workDir)}${cpu === null ? '' : `, on CPU ${cpu}`}`);
  };

  /** Starts the coordinator (again) and resolves once it serves; one start at a time. */
  const startCoord = (mode: 'sweep' | 'serve'): Promise<void> => {
    const args = mode === 'sweep' ? ['sweep', sweepFile, '--port', '0', ...coordFlags] : ['serve', '--port', String(coordPort), ...coordFlags];
    coordStarting ??= (async () => {
      for (let i = 1; ; i++) {
        const p = startProc('dlphys-coord.js', args);
        coords.push(p);
        const deadline = Date.now() + 90_000;
        let port = 0;
        while (!port && alive(p) && Date.now() < deadline) {
          port = Number(/serving on [^:]+:(\d+)/.exec(p.log())?.[1] ?? 0);
          if (!port) await new Promise((r) => setTimeout(r, 100));
        }
        if (port) {
          coord = Object.assign(p, { port });
          coordPort = port;
          coordKilled = false;
          log(`coordinator ${mode === 'sweep' ? 'started' : 'restarted'}: pid ${p.child.pid}, port ${port}`);
          return;
        }
        if (alive(p)) p.kill('SIGKILL');
        await p.exited;
        if (i >= 5) throw new Error(`the coordinator did not start (${mode}) 5 times; the last log:\n${p.log()}`);
        log(`coordinator did not start (${lastLine(p.log())}); again in ${i} s`);
        await new Promise((r) => setTimeout(r, i * 1000)); // backoff between attempts, not synchronisation
      }
    })().finally(() => {
      coordStarting = null;
    });
    return coordStarting;
  };

  /** Samples the coordinator's memory, remembers runner children, notices agents that exit on their own. */
  const observe = (): void => {
    if (coord && alive(coord)) peakRssKb = Math.max(peakRssKb, procStatusKb(coord.child.pid!, 'VmHWM'));
    for (const s of slots) {
      const p = s.proc;
      if (!p) continue;
      if (alive(p)) {
        for (const pid of childPids(p.child.pid!)) if (isRunner(pid)) runnerPids.add(pid);
      } else if (!s.killed && !s.reportedExit) {
        s.reportedExit = true;
        s.dead = true;
        const q = s.proc as Proc; // (alive() narrowed p to never here)
        const code = q.child.exitCode ?? q.child.signalCode;
        const registered = /registered as/.test(q.log());
        const line = `${label(s)} (pid ${q.child.pid}) exited by itself (${code}) ${registered ? 'after registering' : 'before registering'}: ${lastLine(q.log())}`;
        agentExits.push(line);
        log(`${line}; continuing without it`);
      }
    }
  };

  const diskFill = (): void => {
    const fd = fs.openSync(filler, 'w');
    let bytes = 0;
    try {
      for (const chunk of [Buffer.alloc(1 << 20, 1), Buffer.alloc(4096, 1)]) {
        for (;;) {
          try {
            bytes += fs.writeSync(fd, chunk);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
            throw err;
          }
        }
      }
    } finally {
      fs.closeSync(fd);
    }
    diskFullSince = Date.now();
    reportsAtFill = reportedAttempts();
    log(`disk full: ${(bytes / 1048576).toFixed(1)} MiB filler in the runs dir`);
  };
  const diskFree = (): void => {
    if (!diskFullSince) return;
    fs.rmSync(filler, { force: true });
    faults.diskFullSeconds += (Date.now() - diskFullSince) / 1000;
    diskFullSince = 0;
    log(`disk freed (${faults.diskFullSeconds.toFixed(1)} s full; ${reportedAttempts() - reportsAtFill} attempt(s) reported meanwhile)`);
  };

  /**
   * The slot a fault aims at; when that agent has exited by itself (refused to start, say), the
   * next slot whose agent is usable takes its part, so the fault still happens.
   */
  const standIn = (index: number, usable: (s: Slot) => boolean): Slot => {
    const s = slots[index]!;
    if (!s.dead) return s;
    for (let i = 1; i < nAgents; i++) {
      const other = slots[(index + i) % nAgents]!;
      if (!other.dead && usable(other)) {
        log(`${label(s)} is gone: ${label(other)} takes its part`);
        return other;
      }
    }
    return s;
  };

  const pending: Scheduled[] = [];
  let phaseStart = 0;
  const now = () => (Date.now() - phaseStart) / 1000;
  const apply = async (f: Scheduled): Promise<void> => {
    switch (f.kind) {
      case 'disk-fill':
        return diskFill();
      case 'disk-free': {
        // On a slow machine no run may end while the disk is full, and the fault would test
        // nothing: it stays full until 2 runs have reported (or for at most 40% of the soak).
        const reports = diskFullSince ? reportedAttempts() - reportsAtFill : 2;
        if (reports < 2 && Date.now() - diskFullSince < 0.4 * seconds * 1000) {
          if (!f.waiting) log(`disk stays full until 2 runs have reported (${reports} so far)`);
          pending.push({ ...f, at: now() + 0.5, waiting: true });
          return;
        }
        return diskFree();
      }
      case 'coord-kill': {
        if (!coord || !alive(coord)) return log('coordinator kill -9 skipped: it is down');
        coordKilled = true;
        const c: CoordProc = coord;
        peakRssKb = Math.max(peakRssKb, procStatusKb(c.child.pid!, 'VmHWM'));
        c.kill('SIGKILL');
        await c.exited;
        faults.coordKills++;
        log(`kill -9 coordinator (pid ${c.child.pid}); restart in ${f.downFor.toFixed(1)} s`);
        pending.push({ at: now() + f.downFor, kind: 'coord-start' });
        return;
      }
      case 'coord-start':
        // In the background: faults go on while it starts (it takes seconds on a busy machine).
        startCoord('serve').catch((err: Error) => (fatal ??= err));
        return;
      case 'agent-kill': {
        const s = standIn(f.slot, (x) => alive(x.proc));
        if (s.dead || !alive(s.proc)) return log(`kill -9 of ${label(s)} skipped: not running`);
        s.killed = true;
        for (const pid of childPids(s.proc.child.pid!)) if (isRunner(pid)) runnerPids.add(pid);
        s.proc.kill('SIGKILL');
        await s.proc.exited;
        faults.agentKills++;
        log(`kill -9 ${label(s)} (pid ${s.proc.child.pid}); a new one in ${f.restartAfter.toFixed(1)} s`);
        pending.push({ at: now() + f.restartAfter, kind: 'agent-start', slot: s.index });
        return;
      }
      case 'agent-start': {
        const s = slots[f.slot]!;
        if (!s.dead && !alive(s.proc)) startSlot(s);
        return;
      }
      case 'agent-stop': {
        const s = standIn(f.slot, (x) => alive(x.proc) && !x.stoppedPid);
        if (s.dead || !alive(s.proc) || s.stoppedPid) return log(`SIGSTOP of ${label(s)} skipped: not running`);
        s.stoppedPid = s.proc.child.pid!;
        s.proc.kill('SIGSTOP');
        faults.flaps++;
        log(`SIGSTOP ${label(s)} (pid ${s.stoppedPid}) for ${f.stopFor.toFixed(1)} s`);
        pending.push({ at: now() + f.stopFor, kind: 'agent-cont', slot: s.index, pid: s.stoppedPid });
        return;
      }
      case 'agent-cont': {
        const s = slots[f.slot]!;
        if (s.stoppedPid !== f.pid) return;
        s.stoppedPid = null;
        if (alive(s.proc)) {
          s.proc.kill('SIGCONT');
          log(`SIGCONT ${label(s)} (pid ${f.pid})`);
        }
        return;
      }
    }
  };

  try {
    // Start: the coordinator records the sweep; the agents register.
    await startCoord('sweep');
    for (const s of slots) startSlot(s);
    const deadline = Date.now() + 90_000;
    while (slots.some((s) => !s.dead && !/registered as/.test(s.proc!.log()))) {
      observe();
      if (Date.now() > deadline) throw new Error(`agents did not register within 90 s:\n${slots.map((s) => `--- ${label(s)} ---\n${s.proc!.log()}`).join('\n')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    log(`${slots.filter((s) => !s.dead).length} agents registered`);

    const plan = schedule(seed, seconds, nAgents, leaseTtl, mounted);
    log(`schedule (seed ${seed}, ${seconds} s): ${plan.map((f) => `${f.at.toFixed(1)}s ${f.kind}${'slot' in f ? ` #${f.slot}` : ''}`).join(', ')}`);
    pending.push(...plan);
    phaseStart = Date.now();

    // Faults, in order, until the schedule's end or every run has ended.
    let lastProgress = 0;
    while (now() < seconds) {
      observe();
      for (;;) {
        pending.sort((a, b) => a.at - b.at);
        if (!pending.length || pending[0]!.at > now() || now() >= seconds) break;
        await apply(pending.shift()!);
      }
      if (fatal) throw fatal;
      if (!coordKilled && !coordStarting && coord && !alive(coord)) {
        const c = coord as CoordProc;
        log(`coordinator exited by itself (${c.child.exitCode ?? c.child.signalCode}): ${lastLine(c.log())}; starting it again`);
        await startCoord('serve');
      }
      if (allEnded()) {
        log('every run has ended: no more faults');
        break;
      }
      if (Date.now() - lastProgress > 10_000) {
        lastProgress = Date.now();
        const counts: Record<string, number> = {};
        for (const st of Object.values(states())) counts[st] = (counts[st] ?? 0) + 1;
        log(`runs: ${JSON.stringify(counts)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }

    // Leave it alone: disk freed, stopped agents continued, the coordinator and killed agents back.
    diskFree();
    for (const f of pending.filter((p) => p.kind === 'agent-cont' || p.kind === 'coord-start' || p.kind === 'agent-start')) await apply(f);
    pending.length = 0;
    if (coordStarting) await coordStarting;
    if (fatal) throw fatal;
    if (!coord || !alive(coord)) await startCoord('serve');
    log(`faults over; waiting up to ${drainSeconds} s for every run to end`);
    const drainDeadline = Date.now() + drainSeconds * 1000;
    let rescue = 0;
    while (!allEnded() && Date.now() < drainDeadline) {
      observe();
      if (!alive(coord)) {
        log(`coordinator exited by itself (${coord!.child.exitCode ?? coord!.child.signalCode}): ${lastLine(coord!.log())}; starting it again`);
        await startCoord('serve');
      }
      if (!slots.some((s) => alive(s.proc))) {
        // Every agent refused to start or crashed: one more, in a work dir of its own.
        const s: Slot = { index: nAgents + rescue++, workDir: path.join(dir, 'agents', `rescue-${rescue}`), proc: null, gen: 0, dead: false, killed: false, stoppedPid: null, reportedExit: false };
        slots.push(s);
        log('no agent is running: starting a rescue agent');
        startSlot(s);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    const ended = allEnded();
    log(ended ? 'every run has ended' : `deadline: runs still unfinished after ${drainSeconds} s`);

    // Stop: agents first (SIGTERM: they hand back and say goodbye), then the coordinator.
    observe();
    for (const s of slots) {
      if (!alive(s.proc)) continue;
      s.killed = true;
      s.proc.kill('SIGCONT');
      s.proc.kill('SIGTERM');
    }
    await Promise.all(
      slots.map(async (s) => {
        if (!s.proc) return;
        const t = setTimeout(() => s.proc!.kill('SIGKILL'), 15_000);
        await s.proc.exited;
        clearTimeout(t);
      }),
    );
    const c = coord as CoordProc | null;
    if (c && alive(c)) {
      peakRssKb = Math.max(peakRssKb, procStatusKb(c.child.pid!, 'VmHWM'));
      c.kill('SIGTERM');
      const t = setTimeout(() => c.kill('SIGKILL'), 15_000);
      await c.exited;
      clearTimeout(t);
    }
    for (const pid of runnerPids) if (isRunning(pid) && isRunner(pid)) process.kill(pid, 'SIGKILL');

    if (options.logsDir) {
      fs.mkdirSync(options.logsDir, { recursive: true });
      coords.forEach((c, i) => fs.writeFileSync(path.join(options.logsDir!, `coordinator-${i + 1}-pid${c.child.pid}.log`), c.log()));
      for (const p of agentProcs) fs.writeFileSync(path.join(options.logsDir, `${agentLabels.get(p)}-pid${p.child.pid}.log`), p.log());
      log(`process logs in ${options.logsDir}`);
    }
    const result = analyse({ db, runsDir, nRuns, seed, seconds, faults, agentExits, peakRssKb, filler });
    result.wallSeconds = (Date.now() - t0) / 1000;
    return result;
  } finally {
    cleanUp();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

interface AnalyseInput {
  db: string;
  runsDir: string;
  nRuns: number;
  seed: number;
  seconds: number;
  faults: ChaosResult['faults'];
  agentExits: string[];
  peakRssKb: number;
  filler: string;
}

/** Checks the database and the landed folders against each other (everything has stopped). */
function analyse(inp: AnalyseInput): ChaosResult {
  const h = openDb(inp.db);
  const runs = h.prepare('SELECT id, state, attempt, error, summary_json FROM runs ORDER BY id').all() as {
    id: string;
    state: string;
    attempt: number;
    error: string | null;
    summary_json: string | null;
  }[];
  const attemptsOf = h.prepare('SELECT attempt, outcome, error FROM attempts WHERE run_id = ? ORDER BY attempt');
  const rowsOf = h.prepare('SELECT seq, line FROM metrics WHERE run_id = ? AND attempt = ? ORDER BY seq');
  const reports: RunReport[] = [];
  for (const run of runs) {
    const attempts = attemptsOf.all(run.id) as { attempt: number; outcome: string | null; error: string | null }[];
    const rows = rowsOf.all(run.id, run.attempt) as { seq: number; line: string }[];
    const problems: string[] = [];
    let duplicated = false;
    const completedAttempts = attempts.filter((a) => a.outcome === 'completed').length;
    if (completedAttempts > 1) {
      duplicated = true;
      problems.push(`${completedAttempts} completed attempts`);
    }
    const seqs = new Set(rows.map((r) => r.seq));
    if (seqs.size !== rows.length) {
      duplicated = true;
      problems.push(`${rows.length - seqs.size} duplicate metric seq(s)`);
    }
    // Each line carries its step and wall time, so the same line twice is a resent row stored twice.
    const lines = new Set(rows.map((r) => r.line));
    if (lines.size !== rows.length) {
      duplicated = true;
      problems.push(`${rows.length - lines.size} metric line(s) stored twice`);
    }

    // The landed folder.
    const folder = path.join(inp.runsDir, run.id);
    let landed: RunReport['landed'] = 'missing';
    let landedLines: number | null = null;
    if (fs.existsSync(folder)) {
      const files = fs.readdirSync(folder);
      const missing = ['config.json', 'metrics.jsonl', 'summary.json'].filter((f) => !files.includes(f));
      landed = missing.length ? 'partial' : 'whole';
      if (missing.length) problems.push(`landed without ${missing.join(', ')}`);
      if (files.includes('metrics.jsonl')) {
        const fileLines = fs.readFileSync(path.join(folder, 'metrics.jsonl'), 'utf8').split('\n').filter((l) => l.trim());
        landedLines = fileLines.length;
        if (run.state === 'completed') {
          if (fileLines.length !== rows.length) {
            landed = 'partial';
            problems.push(`metrics.jsonl has ${fileLines.length} lines, the final attempt ${rows.length} rows`);
          } else if (fileLines.some((l, i) => l !== rows[i]!.line)) {
            duplicated = true;
            problems.push("metrics.jsonl is not the final attempt's rows (another attempt's folder landed)");
          }
          if (new Set(fileLines).size !== fileLines.length) {
            duplicated = true;
            problems.push('metrics.jsonl holds the same line twice');
          }
        }
      }
      if (files.includes('config.json')) {
        try {
          JSON.parse(fs.readFileSync(path.join(folder, 'config.json'), 'utf8'));
        } catch {
          landed = 'partial';
          problems.push('config.json does not parse');
        }
      }
      if (files.includes('summary.json') && run.state === 'completed') {
        let landedSummary: Record<string, unknown> | null = null;
        try {
          landedSummary = JSON.parse(fs.readFileSync(path.join(folder, 'summary.json'), 'utf8'));
        } catch {
          landed = 'partial';
          problems.push('summary.json does not parse');
        }
        const dbSummary = run.summary_json ? (JSON.parse(run.summary_json) as Record<string, unknown>) : null;
        if (landedSummary && landedSummary.status !== 'completed') {
          landed = 'partial';
          problems.push(`landed summary.json says ${String(landedSummary.status)} (a snapshot, not the final folder)`);
        } else if (landedSummary && dbSummary) {
          const differs = ['started_at', 'ended_at', 'steps'].filter((k) => landedSummary![k] !== dbSummary[k]);
          if (differs.length) {
            duplicated = true;
            problems.push(`landed summary.json disagrees with the database on ${differs.join(', ')} (another attempt's folder)`);
          }
        }
      }
    }

    let verdict: Verdict;
    const summaryStatus = run.summary_json ? (JSON.parse(run.summary_json) as { status?: string }).status : undefined;
    if (run.state === 'completed') {
      verdict = landed === 'whole' && !problems.length ? 'ok' : 'lost-not-landed';
      if (landed !== 'whole') problems.unshift(landed === 'missing' ? 'completed, no folder landed' : 'completed, folder not whole');
    } else if (run.state === 'failed') {
      if (/^lost \d+ times/.test(run.error ?? '')) verdict = 'lost-max-attempts';
      else if (summaryStatus === 'completed') verdict = 'lost-not-landed';
      else verdict = 'failed-other';
      problems.unshift(`failed: ${run.error?.split('\n')[0] ?? '(no error recorded)'}`);
    } else if (['queued', 'leased', 'running'].includes(run.state)) {
      verdict = 'unfinished';
      problems.unshift(`still ${run.state}`);
    } else {
      verdict = 'other';
      problems.unshift(`${run.state}: ${run.error?.split('\n')[0] ?? ''}`);
    }
    reports.push({
      id: run.id,
      state: run.state,
      attempt: run.attempt,
      outcomes: attempts.map((a) => a.outcome),
      lostAttempts: attempts.filter((a) => a.outcome === 'lost').length,
      completedAttempts,
      metricRows: rows.length,
      landedLines,
      landed,
      verdict,
      duplicated,
      problems,
      error: run.error,
    });
  }
  h.close();

  // What lies in the runs dir that no completed run accounts for.
  const strays: string[] = [];
  const byId = new Map(reports.map((r) => [r.id, r]));
  const walk = (rel: string, depth: number) => {
    for (const entry of fs.readdirSync(path.join(inp.runsDir, rel))) {
      const sub = rel ? `${rel}/${entry}` : entry;
      if (path.join(inp.runsDir, sub) === inp.filler) continue;
      if (depth === 0 && entry === SWEEP) walk(sub, 1);
      else if (depth === 0 && entry === 'lost+found') continue;
      else if (depth === 0 && entry === '.incoming') {
        const left = fs.readdirSync(path.join(inp.runsDir, sub));
        if (left.length) strays.push(`.incoming: ${left.length} unfinished upload(s)`);
      } else if (depth === 1 && byId.get(sub)?.state === 'completed') continue;
      else strays.push(`${sub}${byId.has(sub) ? ` (run ${byId.get(sub)!.state})` : ''}`);
    }
  };
  walk('', 0);

  const count = (v: Verdict) => reports.filter((r) => r.verdict === v).length;
  const lostNotLanded = count('lost-not-landed');
  const lostMaxAttempts = count('lost-max-attempts');
  const attemptsLostPerRun = Object.fromEntries(reports.filter((r) => r.lostAttempts).map((r) => [r.id, r.lostAttempts]));
  const completedRuns = reports.filter((r) => r.state === 'completed');
  return {
    seed: inp.seed,
    runs: inp.nRuns,
    seconds: inp.seconds,
    completedLanded: reports.filter((r) => r.verdict === 'ok' && !r.duplicated).length,
    completed: completedRuns.length,
    completedNotLandedWhole: completedRuns.filter((r) => r.verdict !== 'ok').length,
    lost: lostNotLanded + lostMaxAttempts,
    lostNotLanded,
    lostMaxAttempts,
    failedOther: count('failed-other'),
    unfinished: count('unfinished'),
    other: count('other'),
    duplicated: reports.filter((r) => r.duplicated).length,
    attemptsLost: reports.reduce((n, r) => n + r.lostAttempts, 0),
    attemptsLostPerRun,
    errors: Object.fromEntries(reports.filter((r) => r.error && r.state !== 'completed').map((r) => [r.id, r.error!])),
    coordPeakRssMb: Math.round(inp.peakRssKb / 102.4) / 10,
    faults: { ...inp.faults, diskFullSeconds: Math.round(inp.faults.diskFullSeconds * 10) / 10 },
    agentExits: inp.agentExits,
    strays,
    wallSeconds: 0,
    reports,
  };
}

/** The table of runs, the counts, the errors: what a person reads. */
export function formatResult(r: ChaosResult): string {
  const head = ['run', 'state', 'attempts', 'lost', 'rows', 'landed', 'verdict'];
  const body = r.reports.map((x) => [
    x.id,
    x.state,
    x.outcomes.map((o) => (o === null ? '…' : o === 'completed' ? 'C' : o === 'lost' ? 'L' : o === 'failed' ? 'F' : o === 'handback' ? 'H' : o[0]!.toUpperCase())).join(''),
    String(x.lostAttempts),
    String(x.metricRows),
    x.landed === 'missing' ? '-' : `${x.landed} (${x.landedLines ?? '-'})`,
    x.verdict + (x.duplicated ? ' DUPLICATED' : ''),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  const out = [fmt(head), ...body.map(fmt), '(attempts: C completed, L lost, H handed back, F failed, S stopped, … held)', ''];
  const problems = r.reports.filter((x) => x.problems.length && (x.verdict !== 'ok' || x.duplicated));
  if (problems.length) {
    out.push('problems:');
    for (const x of problems) out.push(`  ${x.id}: ${x.problems.join('; ')}`);
    out.push('');
  }
  if (r.agentExits.length) out.push('agents that exited by themselves:', ...r.agentExits.map((l) => `  ${l}`), '');
  if (r.strays.length) out.push(`in the runs dir besides the completed runs: ${r.strays.join(', ')}`, '');
  out.push(
    `runs ${r.runs}: completed and landed exactly once ${r.completedLanded}; lost ${r.lost} (trained but not landed ${r.lostNotLanded}, failed after max attempts ${r.lostMaxAttempts}); ` +
      `failed otherwise ${r.failedOther}; unfinished ${r.unfinished}; duplicated ${r.duplicated}`,
    `attempts lost: ${r.attemptsLost} in all; per run: ${Object.entries(r.attemptsLostPerRun).map(([k, v]) => `${k.split('/')[1]}:${v}`).join(' ') || 'none'}`,
    `faults: ${r.faults.agentKills} agent kill -9, ${r.faults.coordKills} coordinator kill -9, ${r.faults.flaps} agent SIGSTOPs, disk full ${r.faults.diskFault === 'done' ? `${r.faults.diskFullSeconds} s` : 'skipped (no tmpfs)'}`,
    `coordinator peak RSS: ${r.coordPeakRssMb} MB; wall time ${r.wallSeconds.toFixed(0)} s`,
  );
  return out.join('\n');
}

/** The JSON line: the counts, without the per-run reports. */
export function resultJson(r: ChaosResult): string {
  const { reports: _reports, ...counts } = r;
  return JSON.stringify({ bench: 'chaos', ...counts });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values: args } = parseArgs({
    options: {
      runs: { type: 'string', default: '60' },
      seconds: { type: 'string', default: '240' },
      seed: { type: 'string', default: '1' },
      steps: { type: 'string', default: '2000' },
      agents: { type: 'string', default: '4' },
      'lease-ttl': { type: 'string', default: '3' },
      'max-attempts': { type: 'string', default: '25' },
      'drain-seconds': { type: 'string', default: '180' },
      logs: { type: 'string' },
    },
  });
  const result = await runChaos({
    runs: Number(args.runs),
    seconds: Number(args.seconds),
    seed: Number(args.seed),
    steps: Number(args.steps),
    agents: Number(args.agents),
    leaseTtl: Number(args['lease-ttl']),
    maxAttempts: Number(args['max-attempts']),
    drainSeconds: Number(args['drain-seconds']),
    ...(args.logs ? { logsDir: path.resolve(args.logs) } : {}),
  });
  console.log('\n' + formatResult(result));
  console.log(resultJson(result));
}
