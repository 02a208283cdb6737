/**
 * A real single-node SLURM on loopback for tests: its own munged, slurmctld and slurmd, started as
 * child processes from a slurm.conf generated in a temp dir (never /etc/slurm), so tests can run
 * real sbatch/squeue/scancel against it. Two test processes can each start one at the same time:
 * every path (state, spool, logs, pids, munge socket and key) is inside the cluster's own temp dir,
 * and the two TCP ports are picked free at start.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, type TestContext } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface SlurmJobRow {
  /** squeue's JOBID: `12` for a plain job, `12_3` for task 3 of array job 12 (what scancel accepts). */
  jobId: string;
  /** The array's job id (`12`); for a plain job, its own id. */
  arrayJobId: string;
  /** The array task id (`3`); '' for a plain job. */
  arrayTaskId: string;
  /** Long form: PENDING, RUNNING, COMPLETING, ... */
  state: string;
  /** Why it pends (Resources, Priority, BeginTime, ...); 'None' otherwise. */
  reason: string;
  name: string;
}

export interface SlurmCluster {
  /** Environment for client commands and for any process that runs sbatch/squeue/scancel/sacct: SLURM_CONF etc. */
  env: NodeJS.ProcessEnv;
  /** Where slurm.conf lives (a temp dir). */
  confDir: string;
  /** The one node. */
  nodeName: string;
  cpus: number;
  memoryMb: number;
  /** squeue rows of every job still in the queue (pending, running, completing...; array tasks expanded). */
  queue(): SlurmJobRow[];
  /** Cancels leftover jobs, then stops slurmd, slurmctld and munged and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

/** The one partition (also what stop() cancels jobs by). */
const PARTITION = 'test';
const START_TIMEOUT_MS = 60_000;
/** How long stop() gives each step (jobs to leave, daemons to exit) before moving on / SIGKILL. */
const STOP_STEP_MS = 10_000;
const DAEMON_EXIT_MS = 5_000;
const NEEDED = ['munged', 'mungekey', 'slurmctld', 'slurmd', 'sbatch', 'squeue', 'sinfo', 'scancel'];

/**
 * Starts munged, slurmctld and slurmd (as root) with a generated slurm.conf, and waits until the
 * node is idle (sinfo) — or returns { skip: reason } where SLURM is not installed, we are not root,
 * or it fails to start within 60 s (with its daemons' log tail in the reason). Never throws for
 * those: a test decides whether a missing SLURM is a skip or a failure (DLPHYS_REQUIRE_SLURM).
 * Root because slurmd switches to each job's user to start it, and with SlurmUser=root every file
 * the daemons write stays in one root-owned temp dir.
 */
export async function startSlurm(): Promise<SlurmCluster | { skip: string }> {
  const missing = NEEDED.filter((cmd) => which(cmd) === undefined);
  if (missing.length > 0) return { skip: `SLURM is not installed (no ${missing.join(', ')}; apt-get install slurmctld slurmd slurm-client munge)` };
  if (process.getuid?.() !== 0) return { skip: 'not root: slurmd must run as root to start jobs' };
  // A port picked free can be taken by another process before slurmctld binds it: try again once.
  let result = await startOnce();
  if ('skip' in result && /Address already in use/i.test(result.skip)) result = await startOnce();
  return result;
}

async function startOnce(): Promise<SlurmCluster | { skip: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlphys-slurm-'));
  // munged refuses a socket in a directory that not everyone can traverse.
  fs.chmodSync(dir, 0o755);
  for (const sub of ['state', 'spool', 'log']) fs.mkdirSync(path.join(dir, sub));
  const nodeName = os.hostname().split('.')[0];
  const cpus = os.cpus().length;
  // Most of the machine, leaving slurmd's own check (configured <= detected) a margin.
  const memoryMb = Math.floor((os.totalmem() / 2 ** 20) * 0.9);
  const [ctldPort, slurmdPort] = await freePorts(2);
  const confPath = path.join(dir, 'slurm.conf');
  const socket = path.join(dir, 'munge.socket');
  fs.writeFileSync(confPath, slurmConf({ dir, socket, nodeName, cpus, memoryMb, ctldPort, slurmdPort }));
  // Our own spank stack (none) instead of whatever /etc/slurm/plugstack.conf.d holds.
  fs.writeFileSync(path.join(dir, 'plugstack.conf'), '');
  const env = clientEnv(confPath);
  const daemons: Daemon[] = [];
  let stopped = false;

  const killAll = (): void => {
    for (const d of daemons) if (d.alive()) d.child.kill('SIGKILL');
  };
  // If the test process dies without stop(), leave no daemons (and no temp dir) behind.
  const onExit = (): void => {
    try {
      if (daemons.some((d) => d.name === 'slurmctld' && d.alive())) execFileSync('scancel', ['--full', `--partition=${PARTITION}`], { env, timeout: 2_000, stdio: 'ignore' });
    } catch {
      // Best effort: the daemons die next either way.
    }
    killAll();
    killJobProcesses(confPath);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', onExit);
  // ...and if it dies without an 'exit' event (SIGKILL, SIGTERM), its daemons die with it (setpriv) and this cleans up the rest.
  const watchdog = startWatchdog(confPath, dir);

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.off('exit', onExit);
    if (daemons.some((d) => d.name === 'slurmctld' && d.alive())) {
      // Jobs first: slurmd leaves its slurmstepds (and their jobs) running when it stops.
      await run('scancel', ['--full', `--partition=${PARTITION}`], { env, timeout: STOP_STEP_MS }).catch(() => undefined);
      await poll(async () => (await squeue(env).catch(() => [])).length === 0, STOP_STEP_MS).catch(() => undefined);
    }
    // munged last: slurmd and slurmctld authenticate their last messages through it.
    for (const group of [['slurmd', 'slurmctld'], ['munged']]) {
      await Promise.all(daemons.filter((d) => group.includes(d.name)).map((d) => d.terminate()));
    }
    killJobProcesses(confPath);
    fs.rmSync(dir, { recursive: true, force: true });
    watchdog.end(); // Nothing left for it to do: it scans once more and exits.
  };

  const fail = async (why: string): Promise<{ skip: string }> => {
    const tail = logTail(dir);
    await stop();
    return { skip: `SLURM did not start: ${why}\n${tail}` };
  };

  try {
    execFileSync(which('mungekey')!, ['--create', `--keyfile=${path.join(dir, 'munge.key')}`], { stdio: 'pipe' });
    daemons.push(startDaemon('munged', dir, ['munged', '-F', `--socket=${socket}`, `--key-file=${path.join(dir, 'munge.key')}`,
      `--pid-file=${path.join(dir, 'munged.pid')}`, `--seed-file=${path.join(dir, 'munged.seed')}`]));
    await poll(async () => fs.existsSync(socket) || !daemons[0].alive(), START_TIMEOUT_MS);
    if (!daemons[0].alive()) return await fail('munged exited');
    daemons.push(startDaemon('slurmctld', dir, ['slurmctld', '-D', '-f', confPath]));
    daemons.push(startDaemon('slurmd', dir, ['slurmd', '-D', '-f', confPath, '-N', nodeName]));
    let dead: Daemon | undefined;
    const idle = await poll(async () => {
      dead = daemons.find((d) => !d.alive());
      if (dead) return true;
      const out = await run('sinfo', ['-h', '-n', nodeName, '-o', '%T'], { env, timeout: 10_000 }).catch(() => ({ stdout: '' }));
      return out.stdout.trim() === 'idle';
    }, START_TIMEOUT_MS).then(() => true, () => false);
    if (dead) return await fail(`${dead.name} exited`);
    if (!idle) return await fail(`node ${nodeName} not idle within ${START_TIMEOUT_MS / 1000} s`);
  } catch (err) {
    return await fail(String(err));
  }

  return {
    env,
    confDir: dir,
    nodeName,
    cpus,
    memoryMb,
    queue: () => parseQueue(execFileSync('squeue', SQUEUE_ARGS, { env, encoding: 'utf8', timeout: 20_000 })),
    stop,
  };
}

/** The slurm.conf of one cluster: everything it writes stays in `dir`. */
function slurmConf(o: { dir: string; socket: string; nodeName: string; cpus: number; memoryMb: number; ctldPort: number; slurmdPort: number }): string {
  const p = (name: string): string => path.join(o.dir, name);
  return [
    '# Generated by dlphys test/slurm_cluster.ts for one test process; removed when it stops.',
    'ClusterName=dlphystest',
    `SlurmctldHost=${o.nodeName}(127.0.0.1)`,
    `SlurmctldPort=${o.ctldPort}`,
    `SlurmdPort=${o.slurmdPort}`,
    'SlurmUser=root',
    'SlurmdUser=root',
    'AuthType=auth/munge',
    'CredType=cred/munge',
    // Our munged; cred_expire=5 is the least 22.05 accepts (a requeued job waits cred_expire+1 s to start again).
    `AuthInfo=socket=${o.socket},cred_expire=5`,
    `StateSaveLocation=${p('state')}`,
    `SlurmdSpoolDir=${p('spool')}`,
    `SlurmctldPidFile=${p('slurmctld.pid')}`,
    `SlurmdPidFile=${p('slurmd.pid')}`,
    `SlurmctldLogFile=${p('log/slurmctld.log')}`,
    `SlurmdLogFile=${p('log/slurmd.log')}`,
    `PlugStackConfig=${p('plugstack.conf')}`,
    'MailProg=/bin/true',
    'MpiDefault=none',
    // No cgroups here: track processes by parentage, bind nothing.
    'ProctrackType=proctrack/linuxproc',
    'TaskPlugin=task/none',
    'JobAcctGatherType=jobacct_gather/none',
    'AccountingStorageType=accounting_storage/none',
    'JobCompType=jobcomp/none',
    // Cores, not whole nodes, are allocated: several 1-CPU array tasks run at once.
    'SelectType=select/cons_tres',
    'SelectTypeParameters=CR_Core',
    // A node that was down comes back by itself once its slurmd registers.
    'ReturnToService=2',
    // Short, but not so short that a loaded test machine marks a live slurmd down (which kills its jobs).
    'SlurmctldTimeout=10',
    'SlurmdTimeout=30',
    // Finished jobs leave `squeue -t all` within seconds, not the default 5 minutes.
    'MinJobAge=2',
    'KillWait=5',
    // Pending jobs (e.g. requeued ones past their BeginTime) are looked at every second, not every 30-60 s.
    'SchedulerParameters=sched_interval=1,bf_interval=1',
    // (SchedulerTimeSlice matters only for gang scheduling, which is off: left at its default.)
    `NodeName=${o.nodeName} NodeAddr=127.0.0.1 CPUs=${o.cpus} RealMemory=${o.memoryMb} State=UNKNOWN`,
    `PartitionName=${PARTITION} Nodes=${o.nodeName} Default=YES MaxTime=INFINITE State=UP`,
    '',
  ].join('\n');
}

/** Client environment: ours without inherited SLURM_* (a test run inside a SLURM job must not target that job's cluster). */
function clientEnv(confPath: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SLURM_')) env[k] = v;
  env.SLURM_CONF = confPath;
  // The daemons live in /usr/sbin, which a non-login PATH may lack.
  env.PATH = [env.PATH, '/usr/sbin', '/sbin'].filter(Boolean).join(':');
  return env;
}

// `|` separates fields; the name comes last so a `|` in it survives.
const SQUEUE_ARGS = ['--noheader', '--array', '--format=%i|%F|%K|%T|%r|%j'];

async function squeue(env: NodeJS.ProcessEnv): Promise<SlurmJobRow[]> {
  return parseQueue((await run('squeue', SQUEUE_ARGS, { env, timeout: 10_000 })).stdout);
}

function parseQueue(out: string): SlurmJobRow[] {
  return out.split('\n').filter((l) => l.trim()).map((line) => {
    const [jobId, arrayJobId, arrayTaskId, state, reason, ...name] = line.split('|');
    return { jobId, arrayJobId, arrayTaskId: arrayTaskId === 'N/A' ? '' : arrayTaskId, state, reason, name: name.join('|') };
  });
}

interface Daemon {
  name: string;
  child: ChildProcess;
  alive(): boolean;
  /** SIGTERM, then SIGKILL if it has not exited within a few seconds. */
  terminate(): Promise<void>;
}

/**
 * One daemon in the foreground, stdout/stderr to log/<name>.out. Under `setpriv --pdeathsig KILL`
 * where available, so the kernel kills it even if the test process is SIGKILLed (no 'exit' event).
 */
function startDaemon(name: string, dir: string, argv: string[]): Daemon {
  const out = fs.openSync(path.join(dir, 'log', `${name}.out`), 'a');
  const setpriv = which('setpriv');
  const wrap = setpriv ? [setpriv, '--pdeathsig', 'KILL', '--'] : [];
  const [cmd, ...args] = [...wrap, ...argv];
  const child = spawn(cmd, args, { stdio: ['ignore', out, out], env: clientEnv(path.join(dir, 'slurm.conf')) });
  fs.closeSync(out);
  let exited = false;
  const exit = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  child.on('error', () => undefined); // A spawn failure shows up as an exit (and in the logs).
  void exit.then(() => (exited = true));
  return {
    name,
    child,
    alive: () => !exited && child.exitCode === null && child.signalCode === null,
    terminate: async () => {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), DAEMON_EXIT_MS);
      await exit;
      clearTimeout(timer);
    },
  };
}

/**
 * SIGKILLs what is left of this cluster's jobs: their slurmstepds and any process that ran in a job
 * (SLURM_JOB_ID set) with this cluster's SLURM_CONF. proctrack/linuxproc follows parentage only,
 * so a job's child orphaned by its exiting shell (`sleep &`) outlives the job; and after a hard
 * exit slurmctld has no time to pass a cancel on. Linux /proc; elsewhere it does nothing.
 */
function killJobProcesses(confPath: string): void {
  let pids: string[];
  try {
    pids = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid);
  } catch {
    return;
  }
  for (const pid of pids) {
    try {
      const vars = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      if (!vars.includes(`SLURM_CONF=${confPath}`)) continue;
      const comm = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      if (comm === 'slurmstepd' || vars.some((v) => v.startsWith('SLURM_JOB_ID='))) process.kill(Number(pid), 'SIGKILL');
    } catch {
      // Gone already, or not ours to read.
    }
  }
}

/**
 * A detached shell that does killJobProcesses' work and removes `dir` once the pipe from this
 * process closes, which the kernel does however this process ends. Detached, so a signal to our
 * process group (Ctrl-C, a runner's group kill) does not take it down before it cleans up.
 */
function startWatchdog(confPath: string, dir: string): { end(): void } {
  const script = [
    'cat >/dev/null',
    'for p in /proc/[0-9]*; do',
    '  grep -qzxF "SLURM_CONF=$1" "$p/environ" 2>/dev/null || continue',
    '  if [ "$(cat "$p/comm" 2>/dev/null)" = slurmstepd ] || grep -qz "^SLURM_JOB_ID=" "$p/environ" 2>/dev/null; then kill -9 "${p#/proc/}" 2>/dev/null; fi',
    'done',
    'rm -rf "$2"',
  ].join('\n');
  const child = spawn('sh', ['-c', script, 'dlphys-slurm-watchdog', confPath, dir], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
  child.on('error', () => undefined);
  child.stdin!.on('error', () => undefined);
  // Neither the watchdog nor our end of its pipe keeps the test process alive.
  child.unref();
  (child.stdin as unknown as net.Socket).unref();
  return { end: () => child.stdin!.end() };
}

/** The last lines each daemon wrote (the .log files the daemons write, plus their stdout/stderr). */
function logTail(dir: string, lines = 20): string {
  const logDir = path.join(dir, 'log');
  if (!fs.existsSync(logDir)) return '';
  return fs.readdirSync(logDir).sort().map((f) => {
    const text = fs.readFileSync(path.join(logDir, f), 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    return `--- ${f} ---\n${text}`;
  }).join('\n');
}

/** Resolves once `check` holds (polled every 100 ms); rejects after `timeoutMs`. */
async function poll(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `n` distinct TCP ports free right now (held open together so the kernel cannot hand out one twice). */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: n }, () => new Promise<net.Server>((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, () => resolve(s));
  })));
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** The path of `cmd` on PATH (plus the sbin dirs), or undefined. */
function which(cmd: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin'].filter(Boolean);
  for (const d of dirs) {
    const file = path.join(d, cmd);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      // Not here; next dir.
    }
  }
  return undefined;
}

/**
 * A SLURM for the tests of the current describe(): started before them, stopped after. The function
 * returned gives it to a test, or skips the test saying why there is none (fails it instead with
 * DLPHYS_REQUIRE_SLURM=1, as CI sets where SLURM is installed).
 */
export function useSlurm(): (t: TestContext) => SlurmCluster | undefined {
  let cluster: SlurmCluster | undefined;
  let skipReason = 'SLURM was not started';
  before(async () => {
    const c = await startSlurm();
    if ('skip' in c) skipReason = c.skip;
    else cluster = c;
  });
  after(async () => {
    await cluster?.stop();
  });
  return (t) => {
    if (cluster) return cluster;
    if (process.env.DLPHYS_REQUIRE_SLURM === '1') assert.fail(`${skipReason}\n(and DLPHYS_REQUIRE_SLURM=1 requires SLURM)`);
    t.skip(skipReason);
    return undefined;
  };
}
