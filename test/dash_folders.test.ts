/**
 * The folder source (tui/sources/folders.ts) and `dlphys dash DIR`, against real run folders
 * written by `dlphys train`: what its snapshots and events hold, a run's detail, a torn last
 * metrics line, and a run followed while it trains.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { folderSource } from '../tui/sources/folders.js';
import { waitFor } from './cluster.js';
import { recordingSink } from './dash_sink.js';
import { readJsonl, runCli, startCli, tempDir, tinyConfig, writeJson } from './helpers.js';

/** Trains tinyConfig with `lr` into `<runsDir>/<name>/`. */
function train(runsDir: string, name: string, lr: number, extra: Record<string, unknown> = {}): string {
  const cfg = writeJson(path.join(tempDir(), `${name}.json`), tinyConfig({ optimizer: { name: 'sgd', kwargs: { lr, momentum: 0.9 } }, ...extra }));
  const r = runCli(['train', cfg, '--runs-dir', runsDir, '--name', name, '-q']);
  assert.equal(r.status, 0, r.stderr);
  return path.join(runsDir, name);
}

/** Two finished runs of sweep `sw` (lr 0.1 and 0.2), made once for the tests that only read them. */
const finished = (() => {
  let root: string | undefined;
  return () => {
    if (!root) {
      root = tempDir();
      train(path.join(root, 'sw'), 'a', 0.1);
      train(path.join(root, 'sw'), 'b', 0.2);
    }
    return root;
  };
})();

test('a snapshot of finished runs: one sweep named after their folder, states from summary.json, params that differ', async () => {
  const dir = path.join(finished(), 'sw');
  const rec = recordingSink();
  const stop = folderSource(dir, { pollMs: 100 }).start(rec.sink);
  try {
    const s = await waitFor('a snapshot', () => rec.last());
    assert.equal(s.sweeps.length, 1);
    const sweep = s.sweeps[0]!;
    assert.equal(sweep.name, 'sw');
    assert.equal(sweep.total, 2);
    assert.equal(sweep.states.completed, 2);
    assert.equal(sweep.states.running, 0);
    assert.deepEqual([sweep.metric, sweep.goal], ['val_acc', 'max']);
    assert.match(sweep.created_at, /^\d{4}-\d\d-\d\dT/);
    assert.deepEqual(s.agents, []);
    assert.deepEqual(
      s.runs.map((r) => [r.id, r.sweep, r.name, r.state, JSON.parse(r.params_json)]),
      [
        ['sw/a', 'sw', 'a', 'completed', { 'optimizer.kwargs.lr': 0.1 }],
        ['sw/b', 'sw', 'b', 'completed', { 'optimizer.kwargs.lr': 0.2 }],
      ],
    );
    const summary = JSON.parse(fs.readFileSync(path.join(dir, 'a', 'summary.json'), 'utf8'));
    assert.deepEqual(JSON.parse(s.runs[0]!.summary_json), summary);
    assert.deepEqual(rec.connections.map((c) => c.state), ['connecting', 'live']);
  } finally {
    stop();
  }
});

test("the first events carry each run's newest train and val line, as metrics events shaped like the coordinator's", async () => {
  const dir = path.join(finished(), 'sw');
  const rec = recordingSink();
  const stop = folderSource(dir, { pollMs: 100 }).start(rec.sink);
  try {
    await waitFor('events', () => rec.events.length >= 4);
    assert.deepEqual(rec.events.map((e) => e.id), ['1', '2', '3', '4']);
    for (const run of ['a', 'b']) {
      const lines = readJsonl(path.join(dir, run, 'metrics.jsonl'));
      const lastVal = lines.filter((l) => l.split === 'val').at(-1)!;
      const data = rec.data('metrics', `sw/${run}`);
      assert.equal(data.length, 2, run);
      const val = data.find((d) => (d.last as { split: string }).split === 'val')!;
      assert.equal(val.attempt, 1);
      assert.equal(val.last_seq, lines.lastIndexOf(lastVal) + 1);
      assert.deepEqual(val.last, lastVal);
    }
  } finally {
    stop();
  }
});

test("runDetail gives the run's config, every metric line, and the tail of its train.log; an unknown run is refused", async () => {
  const dir = path.join(finished(), 'sw');
  const source = folderSource(dir);
  const detail = await source.runDetail('sw/b', 2);
  assert.equal(detail.run!.id, 'sw/b');
  assert.equal(detail.run!.state, 'completed');
  assert.equal(JSON.parse(detail.config_json).optimizer.kwargs.lr, 0.2);
  const lines = fs.readFileSync(path.join(dir, 'b', 'metrics.jsonl'), 'utf8').trim().split('\n');
  assert.deepEqual(detail.metric_lines, lines);
  const log = fs.readFileSync(path.join(dir, 'b', 'train.log'), 'utf8').trim().split('\n');
  assert.deepEqual(detail.log_tail, log.slice(-2));
  await assert.rejects(source.runDetail('sw/nope', 5), /no run sw\/nope/);
});

test('a torn last metrics line is not read until it is whole; summary.json then finishes the run', async () => {
  const root = tempDir();
  const runDir = path.join(root, 'torn', 'r1');
  fs.cpSync(path.join(finished(), 'sw', 'a'), runDir, { recursive: true });
  fs.rmSync(path.join(runDir, 'summary.json'));
  const metrics = path.join(runDir, 'metrics.jsonl');
  const whole = readJsonl(metrics).length;
  fs.appendFileSync(metrics, '{"step":99,"split":"train","lo');
  const rec = recordingSink();
  // Its process is long gone; this liveness says it still trains, as a run on another host may.
  const stop = folderSource(path.join(root, 'torn'), { pollMs: 50, liveness: { hostname: 'elsewhere', isAlive: () => true } }).start(rec.sink);
  try {
    const s = await waitFor('a snapshot', () => rec.last());
    assert.equal(s.runs[0]!.state, 'running');
    assert.equal(s.sweeps[0]!.states.running, 1);
    await waitFor('the first events', () => rec.events.length > 0);
    assert.ok(rec.data('metrics').every((d) => (d.last_seq as number) <= whole), 'nothing of the torn line');
    const detail = await folderSource(path.join(root, 'torn')).runDetail('torn/r1', 1);
    assert.equal(detail.metric_lines.length, whole, 'runDetail leaves the torn line out');

    fs.appendFileSync(metrics, 'ss":1.5}\n');
    const done = await waitFor('the line once whole', () => rec.data('metrics').find((d) => d.last_seq === whole + 1));
    assert.deepEqual(done.last, { step: 99, split: 'train', loss: 1.5 });
    assert.equal(rec.data('metrics').filter((d) => d.last_seq === whole + 1).length, 1, 'once');

    fs.writeFileSync(path.join(runDir, 'summary.json'), JSON.stringify({ name: 'r1', status: 'diverged', error: null }));
    const finishedEvent = await waitFor('run_finished', () => rec.data('run_finished', 'torn/r1')[0]);
    assert.deepEqual(finishedEvent, { attempt: 1, state: 'diverged', status: 'diverged' });
    await waitFor('the diverged state', () => rec.last()!.runs[0]!.state === 'diverged');
  } finally {
    stop();
  }
});

test("a metrics.jsonl replaced by a longer copy of itself (a coordinator landing a newer upload) goes on where it was; another run's starts over", async () => {
  const root = tempDir();
  const runDir = path.join(root, 'sw', 'r');
  fs.cpSync(path.join(finished(), 'sw', 'a'), runDir, { recursive: true });
  fs.rmSync(path.join(runDir, 'summary.json'));
  const metrics = path.join(runDir, 'metrics.jsonl');
  const all = fs.readFileSync(metrics, 'utf8').trim().split('\n');
  const half = Math.floor(all.length / 2);
  fs.writeFileSync(metrics, all.slice(0, half).join('\n') + '\n');
  const rec = recordingSink();
  const stop = folderSource(path.join(root, 'sw'), { pollMs: 50, liveness: { hostname: 'elsewhere', isAlive: () => true } }).start(rec.sink);
  const seqs = () => rec.data('metrics').map((d) => d.last_seq as number);
  try {
    await waitFor('the first events', () => rec.events.length > 0);
    const before = rec.data('metrics').length;
    // Landed as the coordinator lands: a new file renamed over the old one.
    fs.writeFileSync(`${metrics}.new`, all.join('\n') + '\n');
    fs.renameSync(`${metrics}.new`, metrics);
    await waitFor('the rest of the lines', () => seqs().includes(all.length));
    const after = seqs().slice(before);
    assert.deepEqual(after, Array.from({ length: all.length - half }, (_, i) => half + i + 1), 'each new line once, none again');

    // Another run trained into the same folder (--overwrite): its own lines, from 1.
    const other = all.slice(0, 3).map((l) => l.replace('"step":', '"other":1,"step":'));
    fs.writeFileSync(`${metrics}.new`, other.join('\n') + '\n');
    fs.renameSync(`${metrics}.new`, metrics);
    await waitFor('the other run\'s lines', () => rec.data('metrics').filter((d) => (d.last as { other?: number }).other === 1).length === 3);
    assert.deepEqual(rec.data('metrics').filter((d) => (d.last as { other?: number }).other === 1).map((d) => d.last_seq), [1, 2, 3]);
  } finally {
    stop();
  }
});

test('a run without summary.json whose process on this host is gone is shown failed, saying so', async () => {
  const root = tempDir();
  fs.cpSync(path.join(finished(), 'sw', 'a'), path.join(root, 'sw', 'x'), { recursive: true });
  fs.rmSync(path.join(root, 'sw', 'x', 'summary.json'));
  const rec = recordingSink();
  // The process that trained it (its pid is in config.json's provenance) has exited.
  const stop = folderSource(path.join(root, 'sw')).start(rec.sink);
  try {
    const run = (await waitFor('a snapshot', () => rec.last())).runs[0]!;
    assert.equal(run.state, 'failed');
    assert.match(run.error, /no summary\.json and its process \(pid \d+\) is gone/);
  } finally {
    stop();
  }
});

test('a run followed while it trains: run_started, metrics as lines are written, running, then finished', async () => {
  const root = tempDir();
  const runsDir = path.join(root, 'live');
  fs.mkdirSync(runsDir);
  const rec = recordingSink();
  const stop = folderSource(runsDir, { pollMs: 100 }).start(rec.sink);
  const cfg = writeJson(path.join(root, 'long.json'), tinyConfig({ train: { steps: 1_000_000, batch_size: 32, eval_every: 200, log_every: 20 } }));
  const child = startCli(['train', cfg, '--runs-dir', runsDir, '--name', 'slow', '-q']);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    await waitFor('an empty first snapshot', () => rec.statuses[0]);
    assert.deepEqual(rec.statuses[0]!.runs, []);
    await waitFor('run_started', () => rec.data('run_started', 'live/slow')[0], 60_000, () => stderr);
    await waitFor('the run running', () => rec.last()?.runs.find((r) => r.id === 'live/slow' && r.state === 'running'));
    // Lines arrive one event each, in order, while the run is still running.
    const seqs = await waitFor('10 metrics events', () => {
      const s = rec.data('metrics', 'live/slow').map((d) => d.last_seq as number);
      return s.length >= 10 ? s : null;
    });
    assert.deepEqual(seqs, seqs.map((_, i) => i + 1));
    assert.equal(child.exitCode, null, 'still training');
    child.kill('SIGINT'); // the trainer stops cleanly: summary.json says stopped
    assert.equal(await exited, 0, stderr);
    const fin = await waitFor('run_finished', () => rec.data('run_finished', 'live/slow')[0]);
    assert.deepEqual(fin, { attempt: 1, state: 'completed', status: 'stopped' });
    const total = readJsonl(path.join(runsDir, 'slow', 'metrics.jsonl')).length;
    await waitFor('every line as an event', () => rec.data('metrics', 'live/slow').length === total);
    assert.equal(rec.last()!.runs[0]!.state, 'completed');
  } finally {
    stop();
    child.kill('SIGKILL');
  }
});

test('dlphys dash DIR without a terminal prints the progress line and exits once nothing runs; a bad path is one line', () => {
  const r = runCli(['dash', path.join(finished(), 'sw')]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /sweep sw: 2\/2 finished \(2 completed\), 0 running, 0 queued/);
  const bad = runCli(['dash', path.join(finished(), 'nope')]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr.trim(), /^dlphys: \S+ not found; give a folder of run folders/);
  assert.equal(bad.stderr.trim().split('\n').length, 1);
});
