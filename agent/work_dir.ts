/**
 * One agent per work dir. Two agents sharing a --work-dir (a shared home directory, say) would
 * each treat the other's run folders as their own; the lock file `<work-dir>/.agent.lock` makes
 * the second one refuse to start instead.
 *
 * The lock holds the owner's host and pid and is touched at every heartbeat. It is taken over
 * only when its owner is certainly gone: on the same host, no process has its pid; on another
 * host (a shared file system), it has not been touched for STALE_MS.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UsageError } from '../lib/errors.js';

const LOCK = '.agent.lock';
/** A lock from another host untouched this long is an agent that died without removing it. */
export const STALE_MS = 10 * 60_000;

interface LockInfo {
  host: string;
  pid: number;
  since: string;
}

export interface WorkDirLock {
  readonly file: string;
  /** Marks the lock as live (call now and then: another host judges staleness by its mtime). */
  touch(): void;
  /** Removes the lock if it is still ours, and the work dir if this agent created it and it is empty. */
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLock(file: string): { info: LockInfo | null; mtimeMs: number } | null {
  try {
    const st = fs.statSync(file);
    let info: LockInfo | null = null;
    try {
      info = JSON.parse(fs.readFileSync(file, 'utf8')) as LockInfo;
    } catch {
      // Torn or foreign content: judged by its age alone.
    }
    return { info, mtimeMs: st.mtimeMs };
  } catch {
    return null;
  }
}

/**
 * Creates `dir` if needed and takes its lock for this process. Throws a UsageError naming the
 * owner when another live agent holds it, or when the dir cannot be written.
 */
export function lockWorkDir(dir: string): WorkDirLock {
  const file = path.join(dir, LOCK);
  const mine: LockInfo = { host: os.hostname(), pid: process.pid, since: new Date().toISOString() };
  const created = !fs.existsSync(dir);
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new UsageError(`--work-dir ${dir}: ${(err as Error).message}; choose a folder this user can write`);
  }
  for (let tries = 0; tries < 3; tries++) {
    try {
      fs.writeFileSync(file, JSON.stringify(mine) + '\n', { flag: 'wx', mode: 0o644 });
      return {
        file,
        touch: () => {
          const now = new Date();
          try {
            fs.utimesSync(file, now, now);
          } catch {
            // Gone or unwritable: nothing to keep fresh; the next start will judge.
          }
        },
        release: () => {
          const held = readLock(file)?.info;
          if (held && held.host === mine.host && held.pid === mine.pid) fs.rmSync(file, { force: true });
          // Program sweeps' code snapshots (agent/program_host.ts) can be fetched again: a work dir
          // this agent made goes whole; one the user chose keeps them for the next agent.
          if (created) fs.rmSync(path.join(dir, 'code'), { recursive: true, force: true });
          pruneEmptyFolders(dir);
          if (!created) return;
          try {
            fs.rmdirSync(dir); // a work dir this agent made and left empty goes too
          } catch {
            // Not empty: it holds run folders that did not land (the agent said where).
          }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new UsageError(`--work-dir ${dir}: cannot create ${LOCK}: ${(err as Error).message}; choose a folder this user can write`);
      }
    }
    const held = readLock(file);
    if (!held) continue; // removed meanwhile: try again
    const { info, mtimeMs } = held;
    const sameHost = info?.host === os.hostname();
    // Our own pid in it: a restarted process that got the same pid (pid 1 in a container).
    const gone = sameHost ? info!.pid === process.pid || !alive(info!.pid) : Date.now() - mtimeMs > STALE_MS;
    if (!gone) {
      const who = info ? `the agent with pid ${info.pid} on ${info.host} (since ${info.since})` : 'another agent';
      throw new UsageError(
        `--work-dir ${dir} is in use by ${who}; give each agent its own --work-dir` +
          (sameHost ? '' : ` (if that agent is gone, delete ${file})`),
      );
    }
    fs.rmSync(file, { force: true });
  }
  throw new UsageError(`--work-dir ${dir}: could not take ${file}; another agent keeps taking it`);
}

/**
 * Removes the empty folders under `dir` (the sweep and attempt folders runs were trained in),
 * deepest first; folders holding anything (a run that did not land) stay. Called when the agent
 * has stopped, so no slot is creating a run folder in them.
 */
export function pruneEmptyFolders(dir: string): void {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const child = path.join(dir, entry.name);
    pruneEmptyFolders(child);
    try {
      fs.rmdirSync(child);
    } catch {
      // Not empty: it holds what did not land.
    }
  }
}
