/**
 * Smoke test of the single-node SLURM the SLURM tests run against (test/slurm_cluster.ts): real
 * daemons, real sbatch. An array job runs both tasks at once and leaves the queue; scancel empties
 * the queue. (The time-limit warning is shown end to end by test/slurm.test.ts.)
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { waitFor } from './cluster.js';
import { tempDir } from './helpers.js';
import { useSlurm, type SlurmCluster } from './slurm_cluster.js';

const run = promisify(execFile);
/** `sbatch --parsable <args>` on the cluster; its job id. */
async function sbatch(c: SlurmCluster, args: string[]): Promise<string> {
  const { stdout } = await run('sbatch', ['--parsable', ...args], { env: c.env, timeout: 20_000 });
  return stdout.trim().split(';')[0];
}

/** The daemons' logs, for a timeout's message. */
function logs(c: SlurmCluster): () => string {
  return () => ['slurmctld.log', 'slurmd.log'].map((f) => {
    const file = path.join(c.confDir, 'log', f);
    return fs.existsSync(file) ? `--- ${f} ---\n${fs.readFileSync(file, 'utf8').split('\n').slice(-30).join('\n')}` : '';
  }).join('\n');
}

const secondsSince = (t0: number): string => ((Date.now() - t0) / 1000).toFixed(1);

describe('a single-node SLURM on loopback', () => {
  const slurm = useSlurm();

  test('an array job runs both tasks, writes both files and leaves squeue', { timeout: 60_000 }, async (t) => {
    const c = slurm(t);
    if (!c) return;
    const out = tempDir('dlphys-slurm-out-');
    const t0 = Date.now();
    const id = await sbatch(c, ['--array=0-1', `--output=${out}/slurm-%A_%a.out`, '--wrap', `echo task $SLURM_ARRAY_TASK_ID > ${out}/out_$SLURM_ARRAY_TASK_ID`]);
    const files = [0, 1].map((i) => path.join(out, `out_${i}`));
    await waitFor('both array tasks to write and leave squeue', () =>
      files.every((f) => fs.existsSync(f)) && c.queue().every((row) => row.arrayJobId !== id), 30_000, logs(c));
    t.diagnostic(`array job ${id}: both tasks done and gone from squeue ${secondsSince(t0)} s after sbatch`);
    assert.deepEqual(files.map((f) => fs.readFileSync(f, 'utf8')), ['task 0\n', 'task 1\n']);
  });

  test('scancel of a running and a pending job leaves squeue empty', { timeout: 60_000 }, async (t) => {
    const c = slurm(t);
    if (!c) return;
    // Each job wants every CPU: the first runs, the second pends behind it.
    const job = ['--output=/dev/null', `--cpus-per-task=${c.cpus}`, '--wrap', 'sleep 600'];
    const running = await sbatch(c, job);
    const pending = await sbatch(c, job);
    const state = (id: string): string | undefined => c.queue().find((row) => row.arrayJobId === id)?.state;
    await waitFor('one job running, one pending', () => state(running) === 'RUNNING' && state(pending) === 'PENDING', 30_000, logs(c));
    const t0 = Date.now();
    await run('scancel', [running, pending], { env: c.env, timeout: 20_000 });
    await waitFor('squeue to be empty', () => c.queue().length === 0, 30_000, logs(c));
    t.diagnostic(`squeue empty ${secondsSince(t0)} s after scancel`);
  });
});
