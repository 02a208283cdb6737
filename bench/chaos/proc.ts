/**
 * Starting one coordinator or agent process, and what this bench reads of a process from /proc:
 * its memory, whether a pid is a runner, the CPUs it may use.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Proc } from '../../test/cluster.js';
import { repoRoot } from '../../test/helpers.js';

export type CoordProc = Proc & { port: number };

export function procStatusKb(pid: number, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

export function isRunner(pid: number): boolean {
  try {
    return /runner\/entry\.js|runner\.generated\.mjs/.test(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return false;
  }
}

export const lastLine = (text: string) => text.trim().split('\n').at(-1) ?? '';

export const alive = (p: Proc | null): p is Proc => p !== null && p.child.exitCode === null && p.child.signalCode === null;

/** The CPUs this process may run on (Cpus_allowed_list), e.g. [0, 1]. */
export function allowedCpus(): number[] {
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
export function startProc(bin: 'dlphys-coord.js' | 'dlphys-agent.js', args: string[], cpu: number | null = null): Proc {
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
