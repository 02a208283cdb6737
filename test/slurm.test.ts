/**
 * Agents on SLURM, end to end against a real single-node SLURM (test/slurm_cluster.ts): the
 * coordinator writes and submits the job array, SLURM starts the agents, they train the sweep;
 * a time limit shorter than a run drains its agent, which hands the run back (not lost); cancel
 * leaves nothing in squeue; status shows the tasks, pending or running an agent.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { coordCommand, query, runStates, startCoordinator, tinySweep, waitFor, within, workspace, type Coordinator } from './cluster.js';
import { useSlurm, type SlurmCluster } from './slurm_cluster.js';

/** The coordinator's, SLURM's and the agents' logs, for a failure's message. */
function logs(c: SlurmCluster, coord: Coordinator | undefined, runsDir: string, sweep: string): () => string {
  return () => {
    const parts = [`--- coordinator ---\n${coord?.log() ?? ''}`];
    const dir = path.join(runsDir, sweep, 'slurm');
    if (fs.existsSync(dir)) {
      for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.log'))) parts.push(`--- ${f} ---\n${fs.readFileSync(path.join(dir, f), 'utf8').slice(-3000)}`);
    }
    for (const f of ['slurmctld.log', 'slurmd.log']) {
      const file = path.join(c.confDir, 'log', f);
      if (fs.existsSync(file)) parts.push(`--- ${f} ---\n${fs.readFileSync(file, 'utf8').split('\n').slice(-20).join('\n')}`);
    }
    return parts.join('\n');
  };
}

const attempts = (db: string) => query<{ run_id: string; attempt: number; outcome: string | null; agent_id: string }>(db, 'SELECT run_id, attempt, outcome, agent_id FROM attempts ORDER BY run_id, attempt');

describe('agents on SLURM', () => {
  const slurm = useSlurm();

  test('dlphys-coord sweep --slurm --array-size 2 runs the sweep to completion through agents SLURM started', { timeout: 240_000 }, async (t) => {
    const c = slurm(t);
    if (!c) return;
    const ws = workspace(tinySweep({ name: 'onslurm', runs: 4, steps: 40 }));
    const coord = await startCoordinator(['sweep', ws.sweepFile, '--port', '0', '--db', ws.db, '--runs-dir', ws.runsDir, '--exit-when-done', '--slurm', '--array-size', '2'], { ...c.env, DLPHYS_SLURM_POLL_MS: '500' });
    const log = logs(c, coord, ws.runsDir, 'onslurm');
    t.after(() => coord.kill());
    assert.equal(await within('the sweep to finish', coord.exited, 200_000, log), 0, log());
    assert.deepEqual(new Set(Object.values(runStates(ws.db))), new Set(['completed']), log());
    for (const run of ['r000', 'r001', 'r002', 'r003']) assert.ok(fs.existsSync(path.join(ws.runsDir, 'onslurm', run, 'summary.json')), `${run} landed\n${log()}`);
    // The job as recorded, its script beside the runs, and the agents it started, each linked to its task.
    const [job] = query<{ job_id: string; array_size: number; script: string }>(ws.db, 'SELECT job_id, array_size, script FROM slurm_jobs');
    assert.ok(job, log());
    assert.equal(job.array_size, 2);
    assert.equal(job.script, path.join(ws.runsDir, 'onslurm', 'slurm', 'agents-1.sbatch'));
    assert.match(fs.readFileSync(job.script, 'utf8'), /#SBATCH --array=0-1/);
    const agents = query<{ id: string; slurm_job: string | null }>(ws.db, 'SELECT id, slurm_job FROM agents');
    assert.deepEqual(new Set(agents.map((a) => a.slurm_job)), new Set([`${job.job_id}_0`, `${job.job_id}_1`]), log());
    // Every run was trained by one of them, once.
    const byAgent = new Set(attempts(ws.db).map((a) => a.agent_id));
    assert.ok([...byAgent].every((id) => agents.some((a) => a.id === id)), log());
    assert.ok(attempts(ws.db).every((a) => a.outcome === 'completed'), log());
    assert.match(coord.log(), new RegExp(`SLURM job ${job.job_id} submitted \\(2 agent\\(s\\)`));
    await waitFor('the job to leave the queue', () => c.queue().length === 0, 30_000, log);
    // What the coordinator recorded of its tasks, from squeue: both ran (no accounting here to say how they ended).
    const tasks = query<{ task_id: string; state: string }>(ws.db, 'SELECT task_id, state FROM slurm_tasks ORDER BY task_id');
    assert.equal(tasks.length, 2);
  });

  test('a job whose time limit is shorter than its run drains before it: the run goes back (not lost) and the next job completes the sweep', { timeout: 300_000 }, async (t) => {
    const c = slurm(t);
    if (!c) return;
    // The 60 s job is warned 15 to 45 s after it starts (--signal-grace 15: slurmctld warns at its
    // first 30 s check with less than 45 s left). r000 trains for longer, and writes no metrics row
    // until its end: with no pace to say it ends in time, the drain stops it at once and hands it back.
    const base = tinySweep({ name: 'limited', runs: 1 }).base as { train: Record<string, unknown> };
    const ws = workspace({ ...tinySweep({ name: 'limited', runs: 1 }), base: { ...base, train: { ...base.train, steps: 160_000, log_every: 1_000_000, eval_every: 1_000_000 } } });
    // A token (in a file, which the agents read): dlphys-coord slurm is taken only with one.
    const token = path.join(ws.dir, 'token');
    fs.writeFileSync(token, 'a-token-for-this-test-only-0123456789\n', { mode: 0o600 });
    const coord = await startCoordinator(
      ['sweep', ws.sweepFile, '--port', '0', '--db', ws.db, '--runs-dir', ws.runsDir, '--token-file', token, '--exit-when-done', '--slurm', '--array-size', '1', '--time', '1', '--signal-grace', '15'],
      { ...c.env, DLPHYS_SLURM_POLL_MS: '500' },
    );
    const log = logs(c, coord, ws.runsDir, 'limited');
    t.after(() => coord.kill());
    await waitFor('the run handed back by the drained agent', () => attempts(ws.db).some((a) => a.outcome === 'handback'), 150_000, log);
    await waitFor('the first job to leave the queue', () => c.queue().length === 0, 60_000, log);
    assert.equal(runStates(ws.db)['limited/r000'], 'queued', log());
    const agentLog = fs.readdirSync(path.join(ws.runsDir, 'limited', 'slurm')).find((f) => f.endsWith('.log'))!;
    assert.match(fs.readFileSync(path.join(ws.runsDir, 'limited', 'slurm', agentLog), 'utf8'), /SIGUSR1: draining with a grace of 15 s: 0 run\(s\) finish first, 1 stopped and handed back/);
    // A second job, without a limit, finishes it.
    const second = await coordCommand(['slurm', 'limited', '--coord', coord.address, '--token-file', token, '--array-size', '1'], c.env);
    assert.equal(second.status, 0, second.stderr);
    assert.match(second.stderr, /SLURM job \d+ submitted/);
    assert.equal(await within('the sweep to finish', coord.exited, 200_000, log), 0, log());
    assert.equal(runStates(ws.db)['limited/r000'], 'completed', log());
    // Handed back once, then completed: no attempt lost, none failed.
    assert.deepEqual(attempts(ws.db).map((a) => a.outcome), ['handback', 'completed'], log());
    assert.equal(query<{ n: number }>(ws.db, 'SELECT count(*) AS n FROM slurm_jobs')[0]!.n, 2);
  });

  test('status shows pending and running tasks; dlphys-coord cancel scancels them and leaves squeue empty', { timeout: 180_000 }, async (t) => {
    const c = slurm(t);
    if (!c) return;
    // One one-CPU task more than the node has CPUs: all but one run an agent, one waits for resources.
    const n = c.cpus;
    const ws = workspace(tinySweep({ name: 'tocancel', runs: n + 4, steps: 1_000_000, logEvery: 500 }));
    const coord = await startCoordinator(['sweep', ws.sweepFile, '--port', '0', '--db', ws.db, '--runs-dir', ws.runsDir, '--slurm', '--array-size', String(n + 1), '--cpus-per-task', '1'], { ...c.env, DLPHYS_SLURM_POLL_MS: '500' });
    const log = logs(c, coord, ws.runsDir, 'tocancel');
    t.after(() => coord.kill());
    await waitFor(`${n} agents training`, () => Object.values(runStates(ws.db)).filter((s) => s === 'running').length === n, 120_000, log);
    // The status command, asked until the coordinator's squeue poll has seen the tasks.
    let status = '';
    const deadline = Date.now() + 60_000;
    while (!(/1 pending/.test(status) && new RegExp(`${n} running`).test(status))) {
      if (Date.now() > deadline) assert.fail(`status never showed 1 pending and ${n} running tasks:\n${status}\n${log()}`);
      status = (await coordCommand(['status', '--coord', coord.address], c.env)).stdout;
    }
    assert.match(status, /slurm job/);
    assert.match(status, new RegExp(`_${n} \\((Resources|Priority)`));
    const cancel = await coordCommand(['cancel', 'tocancel', '--coord', coord.address], c.env);
    assert.equal(cancel.status, 0, cancel.stderr);
    await waitFor('squeue empty', () => c.queue().length === 0, 60_000, log);
    await waitFor('every run cancelled', () => Object.values(runStates(ws.db)).every((s) => s === 'cancelled'), 60_000, log);
    // The agents drained at once on SLURM's TERM: their runs went back (and were cancelled), none was
    // left to expire as a lost attempt.
    assert.ok(attempts(ws.db).every((a) => a.outcome !== 'lost'), JSON.stringify(attempts(ws.db)));
  });
});
