/**
 * A program run's lifecycle in the runner (agent/runner/program_run.ts, metrics_tail.ts), with
 * real processes: what is taken from its metrics.jsonl, how it is stopped, and that nothing it
 * started outlives it, even when its runner is killed.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { RunnerProcess } from '../agent/launch/process.js';
import { hasRealWandb } from '../agent/program_host.js';
import { MetricsTail } from '../agent/runner/metrics_tail.js';
import { ProgramRun, sweepParamYaml, type ProgramRunMessage } from '../agent/runner/program_run.js';
import { isRunning, waitFor } from './cluster.js';
import { tempDir } from './helpers.js';

test('the metrics tail takes whole JSON-object lines only: a line being written waits, a last one without newline counts at the end', () => {
  const file = path.join(tempDir(), 'metrics.jsonl');
  const rows: unknown[] = [];
  const skipped: string[] = [];
  const tail = new MetricsTail(file, (_line, row) => rows.push(row), ({ why }) => skipped.push(why));
  assert.equal(tail.poll(), 0, 'no file yet');
  fs.writeFileSync(file, '{"step": 0, "loss": 1}\n{"step": 1, "lo');
  assert.equal(tail.poll(), 1);
  // "é" split across two writes: its bytes are joined before decoding.
  const e = Buffer.from('é');
  fs.appendFileSync(file, Buffer.concat([Buffer.from('ss": 0.5, "note": "'), e.subarray(0, 1)]));
  assert.equal(tail.poll(), 0);
  fs.appendFileSync(file, Buffer.concat([e.subarray(1), Buffer.from('"}\nnot json\n[1, 2]\n{"step": 2, "loss": 0.25}')]));
  assert.equal(tail.poll(), 1);
  assert.deepEqual(skipped, ['not JSON', 'not a JSON object']);
  assert.equal(tail.finish(), 1, 'the last line, without its newline, once the writer is gone');
  assert.deepEqual(rows, [{ step: 0, loss: 1 }, { step: 1, loss: 0.5, note: 'é' }, { step: 2, loss: 0.25 }]);
  // A file started again from nothing is read again from its start.
  fs.writeFileSync(file, '{"step": 0, "loss": 9}\n');
  assert.equal(tail.poll(), 1);
  // A line that never ends is dropped, not held: up to its newline.
  fs.appendFileSync(file, 'x'.repeat(70_000));
  assert.equal(tail.poll(), 0);
  fs.appendFileSync(file, 'still the long line\n{"step": 1, "loss": 8}\n');
  assert.equal(tail.poll(), 1);
  assert.deepEqual(rows.at(-1), { step: 1, loss: 8 });
  assert.match(skipped.at(-1)!, /longer than 65536 bytes/);
});

test("W&B's sweep-param file reads back floats as floats in YAML 1.1 (PyYAML): 1e-07 is written 1.0e-07", () => {
  const text = sweepParamYaml({ lr: 1e-7, wd: 0.0001, n: 3, big: 1e21, nested: { beta: 2.5e-5 }, name: 'a "b"' });
  assert.deepEqual(JSON.parse(text), { wandb_version: 1, lr: { value: 1e-7 }, wd: { value: 0.0001 }, n: { value: 3 }, big: { value: 1e21 }, nested: { value: { beta: 2.5e-5 } }, name: { value: 'a "b"' } });
  assert.match(text, /"lr": \{\n {4}"value": 1\.0e-07\n/);
  assert.match(text, /"beta": 2\.5e-05/);
  assert.match(text, /"wd": \{\n {4}"value": 0\.0001\n/);
});

/** The program run of `sh -c script` in folder `dir`, run r000 of sweep s. */
function shMessage(dir: string, script: string): ProgramRunMessage {
  return {
    type: 'program',
    job: { kind: 'program', program: null, command: ['sh', '-c', script], code: null, cwd: dir, params: { lr: 0.1 }, metric: { name: 'loss', goal: 'min' } },
    runsDir: path.join(dir, 'runs'),
    name: 'r000',
    sweep: 's',
    runId: 's/r000',
    cwd: dir,
    interpreter: 'python3',
    shim: null,
    wandbOffline: false,
  };
}

/** A program run of `sh -c script` in a fresh folder. */
function shRun(script: string, extra: Partial<ProgramRunMessage> = {}) {
  const dir = tempDir('dlphys-prun-');
  const msg: ProgramRunMessage = { ...shMessage(dir, script), ...extra };
  const lines: string[] = [];
  return { dir, lines, run: new ProgramRun(msg, (l) => lines.push(l)) };
}

test('a program run streams its rows, and its summary says completed with final and best', async () => {
  const { run, lines } = shRun('echo \'{"step": 0, "loss": 2}\' >> "$DLPHYS_RUN_DIR/metrics.jsonl"; echo \'{"step": 1, "loss": 1}\' >> "$DLPHYS_RUN_DIR/metrics.jsonl"; echo hi');
  const { summary, error } = await run.run();
  assert.equal(error, null);
  assert.equal(summary!.status, 'completed');
  assert.deepEqual([summary!.final, summary!.best, summary!.steps], [{ loss: 1 }, { loss: 1 }, 2]);
  assert.equal(lines.length, 2);
  assert.match(fs.readFileSync(path.join(run.dir, 'train.log'), 'utf8'), /program run s\/r000: sh -c .*\nhi\n/);
});

test('a stop before the program starts, or while it runs, ends it as stopped; one after it exited changes nothing', async () => {
  const early = shRun('sleep 30');
  early.run.stop('cancelled by the coordinator');
  const t0 = Date.now();
  const stopped = await early.run.run();
  assert.equal(stopped.summary!.status, 'stopped');
  assert.equal(stopped.summary!.reason, 'cancelled by the coordinator');
  assert.ok(Date.now() - t0 < 10_000);

  const done = shRun('exit 0');
  const result = await done.run.run();
  done.run.stop('too late');
  assert.equal(result.summary!.status, 'completed');
});

test('nothing a program started outlives it: a worker that ignores SIGTERM is killed with the group', async () => {
  const pidfile = path.join(tempDir(), 'worker');
  // The leader exits on SIGTERM; its worker ignores it and would run a minute, holding stdout.
  const { run } = shRun(`(trap '' TERM; sleep 60) & echo $! > ${pidfile}; wait`);
  const result = run.run();
  const worker = await waitFor('the worker to start', () => fs.existsSync(pidfile) && Number(fs.readFileSync(pidfile, 'utf8')), 10_000);
  run.stop('agent shutting down');
  const t0 = Date.now();
  const { summary } = await result;
  assert.ok(Date.now() - t0 < 10_000, `resolved after ${Date.now() - t0} ms`);
  assert.equal(summary!.status, 'stopped');
  await waitFor('the worker to be gone', () => !isRunning(worker), 5000);

  // The same after a normal exit: what it left behind goes.
  const pidfile2 = path.join(tempDir(), 'left');
  const left = shRun(`sleep 60 & echo $! > ${pidfile2}; exit 0`);
  assert.equal((await left.run.run()).summary!.status, 'completed');
  await waitFor('the leftover to be gone', () => !isRunning(Number(fs.readFileSync(pidfile2, 'utf8'))), 5000);
});

test('a program killed by SIGTERM from outside waits for the agent: stopped if it asks, else failed', async () => {
  const marker = path.join(tempDir(), 'signalled');
  const asked = shRun(`touch ${marker}; kill -TERM $$; sleep 5`);
  const pending = asked.run.run();
  // The scheduler's signal lands first, as on a real node; the agent's stop follows (either order ends it stopped).
  await waitFor('the program to be signalled', () => fs.existsSync(marker), 5000);
  asked.run.stop('agent shutting down');
  const a = await pending;
  assert.equal(a.summary!.status, 'stopped');
  assert.equal(a.summary!.reason, 'agent shutting down');

  const alone = shRun('kill -TERM $$; sleep 5');
  const b = await alone.run.run();
  assert.equal(b.summary!.status, 'failed');
  assert.match(b.error!, /^program was killed by SIGTERM/);
});

test('a runner killed with SIGKILL takes its program with it', { timeout: 60_000 }, async () => {
  const dir = tempDir('dlphys-prun-');
  const pidfile = path.join(dir, 'pid');
  const runner = new RunnerProcess({ backend: 'none', threads: 1 });
  const outcome = runner.run(shMessage(dir, `echo $$ > ${pidfile}; exec sleep 60`), () => {});
  const pid = await waitFor('the program to start', () => fs.existsSync(pidfile) && Number(fs.readFileSync(pidfile, 'utf8')), 30_000);
  runner.kill();
  const { summary, error } = await outcome;
  assert.equal(summary, null);
  assert.match(error!, /runner process was killed by SIGKILL/);
  await waitFor('the program to be gone with its runner', () => !isRunning(pid), 5000);
});

test("a folder of W&B's local runs named wandb/ is not taken for the real wandb package", { skip: spawnSync('python3', ['--version']).status === 0 ? false : 'python3 is not installed' }, async () => {
  const saved = process.env.PYTHONPATH;
  const site = tempDir('dlphys-site-');
  fs.mkdirSync(path.join(site, 'wandb', 'run-20260101_000000-abc'), { recursive: true });
  try {
    // On the path, a wandb/ folder without __init__.py imports as a namespace package.
    process.env.PYTHONPATH = site;
    assert.equal(await hasRealWandb('python3'), false);
    fs.writeFileSync(path.join(site, 'wandb', '__init__.py'), 'def init(**kw):\n    pass\n');
    assert.equal(await hasRealWandb('python3'), true);
  } finally {
    if (saved === undefined) delete process.env.PYTHONPATH;
    else process.env.PYTHONPATH = saved;
  }
});

test("the real wandb's offline summary gives a program run's final values when it streamed no row", async () => {
  const { run } = shRun('d="$DLPHYS_RUN_DIR/wandb/offline-run-1/files"; mkdir -p "$d"; echo \'{"loss": 0.5, "_step": 3, "nested": {"a": 1}, "note": "x"}\' > "$d/wandb-summary.json"');
  const { summary } = await run.run();
  assert.deepEqual(summary!.final, { loss: 0.5, 'nested.a': 1 });
});

test("a stopped program's final values are its last logged rows, not the shim's summary file, which may be a second older", async () => {
  const { run } = shRun(
    'echo \'{"step": 0, "loss": 2}\' >> "$DLPHYS_RUN_DIR/metrics.jsonl"; echo \'{"step": 1, "loss": 1}\' >> "$DLPHYS_RUN_DIR/metrics.jsonl"; ' +
      'echo \'{"loss": 2, "best": 0.5, "_dlphys_explicit": ["best"]}\' > "$DLPHYS_RUN_DIR/wandb-summary.json"',
  );
  const { summary } = await run.run();
  assert.deepEqual(summary!.final, { loss: 1, best: 0.5 }, 'loss from the rows; best, set by the program, from the file');
});
