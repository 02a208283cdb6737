/**
 * `npm run demo` interrupted: Ctrl-C (SIGINT to the demo alone, as a terminal sends it to the
 * demo's process group and its children have groups of their own) while runs train stops it
 * cleanly: the agents hand their runs back, the database holds no run as leased or running, no
 * process is left, and the demo says so in one line and exits 130. Without a terminal, so the
 * demo prints progress lines, which the test waits on.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { childPids, isRunning, query, waitFor, within } from './cluster.js';
import { repoRoot, tempDir } from './helpers.js';

/** The pids of `pid`'s children, their children, and so on. */
function descendants(pid: number): number[] {
  const out: number[] = [];
  for (const child of childPids(pid)) out.push(child, ...descendants(child));
  return out;
}

test('Ctrl-C during the demo: agents hand their runs back, nothing left running in the database or the process table, one line, exit 130', async () => {
  const dir = tempDir('dlphys-demo-');
  const demo = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'examples', 'demo.ts'), '--dir', dir], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  demo.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  demo.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((resolve) => demo.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const logs = () => out;
  let pids: number[] = [];
  try {
    // The coordinator's progress line once the agents have leased runs.
    await waitFor('runs running', () => /\[coord\] .*sweep mnist_grid: \d+\/9 finished .*, [1-9]\d* running/.test(out), 120_000, logs);
    pids = descendants(demo.pid!);
    assert.ok(pids.length >= 3, `coordinator and two agents at least: ${pids}`);
    demo.kill('SIGINT');
    assert.equal(await within('the demo to exit', exited, 60_000, logs), 130, out);

    const lines = out.trim().split('\n');
    assert.match(lines.at(-1)!, /^demo: interrupted; \d of 9 runs finished, \d queued in \S+dlphys\.db \(npm run demo starts over\)$/, out);
    assert.equal(lines.filter((l) => l.startsWith('demo: interrupted')).length, 1);
    const db = path.join(dir, 'dlphys.db');
    assert.deepEqual(query(db, `SELECT id, state FROM runs WHERE state IN ('leased', 'running')`), []);
    const handedBack = query<{ n: number }>(db, `SELECT count(*) AS n FROM events WHERE type = 'run_requeued' AND data_json LIKE '%"handback"%'`)[0]!.n;
    assert.ok(handedBack >= 1, `runs handed back: ${handedBack}\n${out}`);
    await waitFor('every process of the demo to be gone', () => pids.every((p) => !isRunning(p)), 10_000, () => `${pids.filter(isRunning)}\n${out}`);
  } finally {
    demo.kill('SIGKILL');
    for (const p of pids) if (isRunning(p)) process.kill(p, 'SIGKILL');
  }
});
