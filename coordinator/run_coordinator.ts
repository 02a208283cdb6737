import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { UsageError } from '../lib/errors.js';
import { logLine } from '../lib/log.js';
import type { ExpandedSweep } from '../lib/sweep/index.js';
import { serverCredentials, type ListenFlags } from './listen_options.js';
import { CoordinatorServer } from './server.js';
import { Store } from './store/index.js';
import { cleanStaging } from './landing.js';
import { SweepProgress } from './sweep_progress.js';
import { SweepReports, writeSweepSpec } from './sweep_files.js';
import { SlurmJobs } from './slurm/jobs.js';
import type { SlurmOptions } from './slurm/options.js';

export interface RunCoordinatorOptions {
  flags: ListenFlags;
  /** Recorded before serving (dlphys-coord sweep); none for dlphys-coord serve. */
  sweep?: ExpandedSweep;
  log?: (line: string) => void;
  /** The fix to print when the port is taken (default: choose another --port or --host). */
  portTakenFix?: (address: string) => string;
  /** Called once the server listens, with the port it got (--port 0 picks one). */
  onListening?: (port: number) => void;
  /** Shuts the coordinator down as SIGINT would (a dashboard in the same process was closed). */
  stop?: AbortSignal;
  /** Submit a SLURM job array of agents for the sweep once listening (dlphys-coord sweep --slurm). */
  slurm?: SlurmOptions;
}


/**
 * Opens the database, records the sweep (if any), serves agents until SIGINT/SIGTERM or, with
 * --exit-when-done, until every run has finished. Every check that can fail on bad input runs
 * before the database is touched.
 */
export async function runCoordinator(opts: RunCoordinatorOptions): Promise<void> {
  const { flags } = opts;
  const log = opts.log ?? logLine;
  const credentials = serverCredentials(flags);
  // Everything that can fail on a bad flag is checked before anything is created.
  checkDbPath(flags.db);
  checkCanCreateDir(flags.runsDir, '--runs-dir');
  // A port that is taken fails here, before the database or the runs dir exists.
  await checkCanListen(flags.host, flags.port, opts.portTakenFix);
  const dbIsNew = !fs.existsSync(flags.db);
  const store = openStore(flags);
  try {
    fs.mkdirSync(flags.runsDir, { recursive: true });
  } catch (err) {
    store.close();
    if (dbIsNew) for (const suffix of ['', '-wal', '-shm']) fs.rmSync(`${flags.db}${suffix}`, { force: true });
    throw new UsageError(`cannot create ${(err as NodeJS.ErrnoException).path}: ${(err as Error).message}; choose another --runs-dir`);
  }
  let server: CoordinatorServer | null = null;
  const slurm = new SlurmJobs({ store, runsDir: flags.runsDir, host: flags.host, log, ...(flags.token ? { token: flags.token } : {}), ...(flags.tokenFile ? { tokenFile: flags.tokenFile } : {}) });
  try {
    if (opts.sweep) {
      const { existed, runs } = store.addSweep(opts.sweep, opts.sweep.codeArchive);
      log(existed ? `sweep ${opts.sweep.name} is already recorded in ${flags.db}: continuing it` : `sweep ${opts.sweep.name}: ${runs} runs recorded in ${flags.db}`);
      if (!existed) writeSweepSpec(flags.runsDir, opts.sweep, log);
    } else if (store.status().sweeps.length === 0) {
      // serve on a mistyped --db starts on an empty database: say so, it is rarely what was meant.
      log(`warning: no sweep is recorded in ${flags.db}; check --db, or add one with dlphys-coord submit FILE --coord HOST:PORT`);
    }
    const cleaned = await cleanStaging(flags.runsDir);
    if (cleaned.removed) log(`removed ${cleaned.removed} unfinished upload(s) left by an earlier coordinator`);
    const leaseTtlMs = Math.round(flags.leaseTtl * 1000);
    server = new CoordinatorServer({
      store,
      runsDir: flags.runsDir,
      leaseTtlMs,
      token: flags.token,
      maxFileBytes: flags.maxUploadMb * 1024 * 1024,
      maxUploadBytes: flags.maxUploadMb * 1024 * 1024,
      uploadIdleMs: flags.uploadIdle * 1000,
      watch: { maxWatchers: flags.watchMax, bufferBytes: Math.round(flags.watchBufferKb * 1024), stallMs: flags.watchStall * 1000 },
      slurm,
      log,
    });
    let port: number;
    try {
      port = await server.listen(flags.host, flags.port, credentials);
    } catch (err) {
      throw new UsageError(`cannot listen on ${flags.host}:${flags.port}: ${(err as Error).message.split('\n')[0]}; choose another --port`);
    }
    // Tests and scripts wait for this exact line to learn the port.
    log(`serving on ${flags.host}:${port}${flags.tlsCert ? ' (TLS)' : ''}; agents: dlphys-agent --coord ${flags.host}:${port}${flags.token ? ' --token-file FILE' : ''}`);
    opts.onListening?.(port);
    slurm.listening(port);
    if (opts.slurm && opts.sweep) {
      // The same command run again (a restart) does not submit another array while one is queued.
      const active = slurm.activeJobs(opts.sweep.name);
      if (active.length > 0) log(`sweep ${opts.sweep.name}: SLURM job(s) ${active.join(' ')} still queued or running: not submitting another (dlphys-coord slurm ${opts.sweep.name} adds agents)`);
      else await slurm.submit(opts.sweep.name, opts.slurm);
    }
    const progress = new SweepProgress(store, log);
    const reports = flags.report ? new SweepReports(store, flags.runsDir, log) : null;
    // Checked right after each commit, in the same tick: once every run has finished, nothing
    // new is taken (no lease, sweep or retry), so what it says it exits with is what it has.
    const finished = () => {
      if (!flags.exitWhenDone || !store.allDone()) return false;
      server!.stopAcceptingWork();
      return true;
    };
    let detach = () => {};
    const why = await new Promise<string>((resolve) => {
      const onSignal = (signal: NodeJS.Signals) => resolve(`${signal}: shutting down (the database keeps everything; start again to continue)`);
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const onStop = () => {
        const reason: unknown = opts.stop?.reason;
        resolve(`${typeof reason === 'string' ? reason : 'stopped'}: shutting down (the database keeps everything; start again to continue)`);
      };
      opts.stop?.addEventListener('abort', onStop);
      if (opts.stop?.aborted) onStop();
      const unsubscribe = store.onEvent(() => {
        progress.schedule();
        reports?.schedule();
        if (finished()) resolve('every run has finished: exiting (--exit-when-done)');
      });
      detach = () => {
        unsubscribe();
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        opts.stop?.removeEventListener('abort', onStop);
      };
      progress.schedule();
      if (finished()) resolve('every run has finished: exiting (--exit-when-done)');
    });
    detach();
    progress.flush();
    log(why);
    if (finished()) {
      // Array tasks still waiting in SLURM's queue would start agents with nothing to do.
      await slurm.cancelPending();
      await server.waitUntilAgentsToldIdle(Math.min(leaseTtlMs, 10_000));
    }
    // The last sweep's report is part of finishing it: written before the process exits.
    await reports?.drain();
  } finally {
    await slurm.stop();
    await server?.close();
    store.close();
  }
}

/** Binds and releases host:port once, so a taken port or a foreign address is a usage error up front. */
function checkCanListen(host: string, port: number, portTakenFix?: (address: string) => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => {
      // A wildcard listener is reached on loopback from this host.
      const address = `${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}`;
      const fix = err.code === 'EADDRINUSE' && portTakenFix ? portTakenFix(address) : 'choose another --port or --host';
      reject(new UsageError(`cannot listen on ${host}:${port}: ${err.code === 'EADDRINUSE' ? 'the port is in use' : err.message}; ${fix}`));
    });
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

/** The nearest folder of `target` (itself included) that exists: where a mkdir -p would start. */
function nearestExisting(target: string): string {
  let dir = path.resolve(target);
  while (!fs.existsSync(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

/** A folder that can be created (or exists and is writable), checked without creating anything. */
function checkCanCreateDir(dir: string, flag: string): void {
  const abs = path.resolve(dir);
  if (fs.existsSync(abs) && !fs.statSync(abs).isDirectory()) throw new UsageError(`${flag} ${dir} is a file, not a folder; choose another ${flag}`);
  const existing = nearestExisting(abs);
  if (!fs.statSync(existing).isDirectory()) throw new UsageError(`cannot create ${dir}: ${existing} is a file; choose another ${flag}`);
  try {
    fs.accessSync(existing, fs.constants.W_OK | fs.constants.X_OK);
  } catch {
    throw new UsageError(`cannot create ${dir}: ${existing} is not writable; choose another ${flag}`);
  }
}

/** --db must name a file (new or a database) in a folder this process can write. */
function checkDbPath(db: string): void {
  const abs = path.resolve(db);
  if (fs.existsSync(abs)) {
    if (fs.statSync(abs).isDirectory()) throw new UsageError(`--db ${db} is a directory; give a file path such as ${path.join(db, 'dlphys.db')}`);
    try {
      fs.accessSync(abs, fs.constants.R_OK | fs.constants.W_OK);
    } catch {
      throw new UsageError(`--db ${db} is not writable; choose another --db`);
    }
  }
  checkCanCreateDir(path.dirname(abs), '--db');
}

/** Opens the store; a database that cannot be opened after all leaves no folder it created behind. */
function openStore(flags: ListenFlags): Store {
  let created: string | undefined;
  try {
    created = fs.mkdirSync(path.dirname(path.resolve(flags.db)), { recursive: true });
    return Store.open(flags.db, { maxAttempts: flags.maxAttempts });
  } catch (err) {
    if (created) fs.rmSync(created, { recursive: true, force: true });
    throw err;
  }
}
