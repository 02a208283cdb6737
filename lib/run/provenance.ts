import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { packageDir } from '../package_dir.js';
import { version } from '../version.js';

export interface Provenance {
  version: string;
  git_commit: string | null;
  git_dirty: boolean | null;
  backend: string;
  /** wasm: the threads its matmuls ran on. */
  threads?: number;
  seed: number;
  host: string;
  pid: number;
  started_at: string;
  node: string;
  argv: string[];
}


/** Where a run came from: enough to find the code and the machine again. */
export function provenance(backend: { name: string; threads?: number }, seed: number): Provenance {
  const { commit, status } = (gitState ??= readGitState());
  return {
    version,
    git_commit: commit,
    git_dirty: status === null ? null : status.length > 0,
    backend: backend.name,
    ...(backend.threads !== undefined ? { threads: backend.threads } : {}),
    seed,
    host: os.hostname(),
    pid: process.pid,
    started_at: new Date().toISOString(),
    node: process.version,
    argv: process.argv.slice(2),
  };
}

/** Read once per process: two git calls cost tens of ms, which a runner reused for many short runs would pay each time. */
let gitState: { commit: string | null; status: string | null } | undefined;

function readGitState() {
  const commit = git(['rev-parse', 'HEAD']);
  return { commit, status: commit === null ? null : git(['status', '--porcelain', '--untracked-files=no']) };
}

function git(args: string[]): string | null {
  const r = spawnSync('git', ['-C', packageDir, ...args], { encoding: 'utf8', timeout: 5000 });
  return r.status === 0 ? r.stdout.trim() : null;
}
