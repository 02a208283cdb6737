/**
 * Finished training is never thrown away, with real processes on 127.0.0.1: a coordinator whose
 * disk (database and runs dir) fills up and is freed, two agents pointed at one work dir, an
 * agent that stops and resumes (a flapping host), an agent that never finds its coordinator,
 * and an agent that says goodbye. Every wait is on the database, the disk, or a process's exit.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { connect, unary } from '../proto/client.js';
import {
  attemptsOf,
  landedLines,
  query,
  runStates,
  serveSweep,
  startAgent,
  startCoordinator,
  startOneSlotAgent,
  tinySweep,
  waitFor,
  withCluster,
  within,
  workspace,
} from './cluster.js';
import { tempDir } from './helpers.js';

const STEPS = 3000;

function runningOn(db: string): { id: string; agent_id: string }[] {
  return query(db, "SELECT id, agent_id FROM runs WHERE state = 'running' ORDER BY id");
}

async function status(address: string, sweep = '') {
  const conn = connect(address);
  try {
    return await unary(conn, 'Status', { sweep }, 5000);
  } finally {
    conn.close();
  }
}

/** Mounts a tmpfs of `mb` MiB at a fresh folder; null when this process may not mount (not root). */
function tmpfs(mb: number): { dir: string; unmount: () => void } | null {
  const dir = tempDir('dlphys-tmpfs-');
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${mb}m`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  return { dir, unmount: () => void spawnSync('umount', ['-l', dir]) };
}

/** Fills the file system of `dir` to the last byte with one file; returns its path. */
function fill(dir: string): string {
  const file = path.join(dir, 'filler.bin');
  const fd = fs.openSync(file, 'w');
  const block = Buffer.alloc(1 << 20, 7);
  try {
    for (;;) fs.writeSync(fd, block);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  }
  try {
    for (;;) fs.writeSync(fd, block, 0, 512);
  } catch {
    // Full to the last block.
  }
  fs.closeSync(fd);
  return file;
}

test('a coordinator whose disk fills up loses nothing: agents keep their folders and retry, status says the disk is full, and freeing space lands every run', async (t) => {
  const disk = tmpfs(48);
  if (!disk) return t.skip('needs root to mount a small tmpfs as the full disk');
  try {
    const ws = workspace(tinySweep({ name: 'full', runs: 2, steps: 1500, logEvery: 50 }));
    const db = path.join(disk.dir, 'dlphys.db');
    const runsDir = path.join(disk.dir, 'runs');
    await withCluster(async (c) => {
      // No lease needs to expire here: long leases keep a loaded machine from expiring one anyway.
      const coord = c.track('coordinator', await startCoordinator(['sweep', ws.sweepFile, '--port', '0', '--db', db, '--runs-dir', runsDir, '--lease-ttl', '10']));
      const workDir = tempDir('dlphys-agent-');
      const agent = c.track('agent', startAgent(coord.address, ['--slots', '2', '--work-dir', workDir]));
      await waitFor('both runs training', () => runningOn(db).length === 2, 90_000, c.logs);
      const filler = fill(disk.dir);

      // Training ends on the agent; metrics, uploads and reports are refused for lack of space.
      await waitFor('both runs to finish training on the agent', () => (agent.log().match(/keeping it and retrying/g) ?? []).length >= 2, 120_000, c.logs);
      const full = await status(coord.address);
      assert.equal(full.coordinator?.disk_full, true, 'status says the disk is full');
      assert.match(full.coordinator?.disk_error ?? '', /disk is full/);
      assert.deepEqual(Object.values(runStates(db)), ['running', 'running'], 'nothing failed and no lease expired while the disk was full');
      const kept = fs.readdirSync(path.join(workDir, 'full'), { recursive: true }).map(String).filter((p) => p.endsWith('summary.json'));
      assert.equal(kept.length, 2, `the agent keeps both finished folders: ${kept.join(', ')}`);
      assert.equal(agent.child.exitCode, null, 'the agent did not exit');

      fs.rmSync(filler);
      await waitFor('both runs completed once space is free', () => Object.values(runStates(db)).every((s) => s === 'completed'), 120_000, c.logs);
      for (const runId of ['full/r000', 'full/r001']) {
        assert.deepEqual(attemptsOf(db, runId).map((a) => a.outcome), ['completed'], `${runId}: one attempt\n${c.logs()}`);
        const summary = JSON.parse(fs.readFileSync(path.join(runsDir, runId, 'summary.json'), 'utf8'));
        assert.equal(summary.status, 'completed');
        const stored = query<{ line: string }>(db, 'SELECT line FROM metrics WHERE run_id = ? AND attempt = 1 ORDER BY seq', runId);
        assert.deepEqual(stored.map((r) => r.line), landedLines(runsDir, runId), `${runId}: the database holds the landed metrics`);
      }
      await waitFor('the agent to delete its copies once they landed', () => !fs.readdirSync(workDir, { recursive: true }).map(String).some((p) => p.endsWith('summary.json')), 30_000, c.logs);
      assert.equal((await status(coord.address)).coordinator?.disk_full, false, 'the disk-full flag clears when folders land again');
      assert.equal(agent.child.exitCode, null);
    });
  } finally {
    disk.unmount();
  }
});

test('a second agent on the same work dir refuses to start; an agent that exits says goodbye and shows as left at once', async () => {
  const ws = workspace(tinySweep({ name: 'wd', runs: 1, steps: STEPS, logEvery: 50 }));
  await withCluster(async (c) => {
    const coord = await serveSweep(c, ws);
    const workDir = tempDir('dlphys-shared-');
    const first = c.track('first agent', startOneSlotAgent(coord.address, ['--work-dir', workDir]));
    await waitFor('the run training on the first agent', () => runningOn(ws.db).length === 1, 90_000, c.logs);
    // The run trains in a folder of its own attempt.
    await waitFor('the per-attempt run folder', () => fs.existsSync(path.join(workDir, 'wd', 'a1', 'r000', 'config.json')), 30_000, c.logs);

    const second = c.track('second agent', startOneSlotAgent(coord.address, ['--work-dir', workDir]));
    assert.equal(await within('the second agent to refuse', second.exited, 30_000, c.logs), 2);
    const lines = second.log().trim().split('\n');
    assert.equal(lines.length, 1, second.log());
    assert.match(lines[0]!, new RegExp(`--work-dir ${workDir} is in use by the agent with pid ${first.child.pid}.*give each agent its own --work-dir`));
    assert.equal(first.child.exitCode, null, 'the first agent goes on');

    first.kill('SIGTERM');
    assert.equal(await within('the first agent to drain and exit', first.exited, 30_000, c.logs), 0);
    const agents = (await status(coord.address)).agents;
    assert.equal(agents.length, 1, 'the refused agent never registered');
    assert.equal(agents[0]!.state, 'left');
    assert.equal(agents[0]!.alive, false);
    assert.equal(fs.existsSync(path.join(workDir, '.agent.lock')), false, 'the lock is released');
  });
});

test('a flapping agent does not take back the run it lost while another agent can: the run completes elsewhere within its attempts', async () => {
  const ws = workspace(tinySweep({ name: 'flap', runs: 3, steps: STEPS, logEvery: 50 }));
  await withCluster(async (c) => {
    const coord = await serveSweep(c, ws, ['--lease-ttl', '5']); // long enough that only the stopped agent loses a lease on a loaded machine
    const flappy = c.track('flapping agent', startOneSlotAgent(coord.address));
    await waitFor('flap/r000 on the flapping agent', () => runningOn(ws.db).find((r) => r.id === 'flap/r000'), 90_000, c.logs);
    const steady = c.track('steady agent', startOneSlotAgent(coord.address));
    await waitFor('flap/r001 on the steady agent', () => runningOn(ws.db).find((r) => r.id === 'flap/r001'), 90_000, c.logs);

    flappy.kill('SIGSTOP');
    await waitFor('flap/r000 to be requeued', () => attemptsOf(ws.db, 'flap/r000')[0]?.outcome === 'lost', 30_000, c.logs);
    flappy.kill('SIGCONT');
    await waitFor('every run to complete', () => Object.values(runStates(ws.db)).every((s) => s === 'completed'), 240_000, c.logs);

    const r0 = attemptsOf(ws.db, 'flap/r000');
    assert.deepEqual(r0.map((a) => a.outcome), ['lost', 'completed'], 'one loss, then done');
    assert.notEqual(r0[1]!.agent_id, r0[0]!.agent_id, 'the run went to the other agent');
    assert.equal((await status(coord.address, 'flap')).runs.find((r) => r.id === 'flap/r000')?.lost_attempts, 1);
  });
});

test('an agent whose coordinator never answers gives up after --connect-timeout with one line naming the address', async () => {
  for (const address of ['127.0.0.1:1', 'no-such-host.invalid:50051']) {
    await withCluster(async (c) => {
      const agent = c.track(`agent -> ${address}`, startAgent(address, ['--exit-when-idle', '--connect-timeout', '1']));
      assert.equal(await within('the agent to give up', agent.exited, 60_000, c.logs), 2, c.logs());
      assert.match(agent.log(), new RegExp(`no coordinator answers at ${address.replace('.', '\\.')}.*gave up after --connect-timeout 1 s`));
    });
  }
});
