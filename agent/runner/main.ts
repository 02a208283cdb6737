import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend, type BackendChoice } from '../../lib/backend/index.js';
import { RunFailedError, UsageError } from '../../lib/errors.js';
import type { RunSummary } from '../../lib/run/run_folder.js';
import { prepareRun, type PreparedRun, type TrainRunOptions } from '../../lib/run/train_run.js';
import type { Trainer } from '../../lib/training/trainer.js';
import { ProgramRun, type ProgramRunMessage } from './program_run.js';
import type { FromRunner, PrepareJob, RunJob, RunnerHeld, RunnerMarks, ToRunner } from './protocol.js';

/**
 * The child process that trains runs for an agent, one at a time. It starts before it has a run
 * ("warm"): tfjs and the backend load once, and the agent sends it run after run until its reuse
 * policy retires it (agent/launch/reuse_policy.ts: after a failed run, a leak, N runs or M
 * minutes), so a crash or leak never reaches the next run. It reports what it holds (tensors,
 * memory) when ready and after each run, for that policy to judge.
 * A program run (a program sweep's own script) is a child of this process: it outlives neither
 * this process's run nor the agent (the channel closing kills its process group).
 * DLPHYS_BACKEND=none: no tensor backend is loaded (an agent that runs programs only).
 */

const backendChoice = (process.env.DLPHYS_BACKEND ?? 'auto') as BackendChoice | 'none';
let trainer: Trainer | undefined;
let program: ProgramRun | undefined;
let pendingStop: string | undefined;
let training = false;
/** The name of the run in progress. */
let current: string | undefined;

function send(message: FromRunner): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected) return resolve();
    process.send!(message, () => resolve());
  });
}

function finish(): void {
  if (process.connected) process.disconnect();
}

process.on('message', (message: ToRunner) => {
  if (message.type === 'stop') {
    // Only for the run in progress: a stop for a run that has ended is dropped.
    if (!training || message.run !== current) return;
    pendingStop = message.reason;
    trainer?.requestStop(message.reason);
    program?.stop(message.reason);
  } else if (message.type === 'run') {
    void run(message);
  } else if (message.type === 'program') {
    void runProgram(message);
  } else if (message.type === 'prepare') {
    prepare(message);
  } else if (message.type === 'unprepare') {
    unprepare(message);
  }
});
// The channel closes when the agent is done with this process (after a run), or when it vanished
// (kill -9): a run nobody can report is not worth finishing, and a program must not outlive it.
process.on('disconnect', () => {
  program?.kill();
  process.exit(training ? 1 : 0);
});
// Ctrl-C in the agent's terminal, and SIGTERM from whatever stops the agent's process group
// (SLURM's scancel, timeout, systemd), reach this process too: the agent decides what stops (it
// drains: its runs stop and go back to the queue), so the runner waits for its word.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});

/**
 * A run prepared ahead (its data, model and folder built while the run before it trained), by its
 * folder; `ready` once built, null when it could not be (the run then fails as it would have).
 */
interface Prepared {
  run: Promise<PreparedRun | null>;
  ready: PreparedRun | null;
  marks: RunnerMarks;
}
const prepared = new Map<string, Prepared>();
const folderOf = (job: { runsDir: string; name: string }) => path.join(job.runsDir, job.name);

function trainOptions(message: Extract<RunJob, { type: 'run' }> | PrepareJob, marks: RunnerMarks): TrainRunOptions {
  return {
    raw: message.config,
    source: `run ${message.name}`,
    baseDir: process.cwd(),
    runsDir: message.runsDir,
    name: message.name,
    overwrite: true,
    backend: backendChoice as BackendChoice,
    // Called when the run starts training: whatever stop came for it meanwhile applies.
    onTrainer: (t) => {
      trainer = t;
      if (pendingStop) t.requestStop(pendingStop);
    },
    onMetricsLine: (line) => void send({ type: 'metrics', line }),
    marks,
  };
}

function prepare(message: PrepareJob): void {
  const key = folderOf(message);
  if (backendChoice === 'none' || prepared.has(key)) return;
  const entry: Prepared = { run: Promise.resolve(null), ready: null, marks: { received: Date.now() } };
  entry.run = backendReady
    .then(() => prepareRun(trainOptions(message, entry.marks)))
    .then(
      (run) => (entry.ready = run),
      () => null, // bad input: the run, when sent, builds again and fails with the message
    );
  prepared.set(key, entry);
}

function unprepare(message: { runsDir: string; name: string }): void {
  const entry = prepared.get(folderOf(message));
  if (!entry) return;
  prepared.delete(folderOf(message));
  void entry.run.then((run) => run?.discard());
}

/** One run; the agent may send another afterwards (--runs-per-process), or close the channel. */
async function run(message: Extract<ToRunner, { type: 'run' }>): Promise<void> {
  const ahead = prepared.get(folderOf(message));
  prepared.delete(folderOf(message));
  const marks: RunnerMarks = ahead?.marks ?? { received: Date.now() };
  marks.go = Date.now();
  training = true;
  current = message.name;
  trainer = undefined;
  let error: string | null = null;
  let summary: RunSummary | null = null;
  try {
    if (backendChoice === 'none') throw new UsageError('this agent has no tensor backend for dlphys runs (it runs program sweeps only)');
    await backendReady;
    const ready = (await ahead?.run) ?? (await prepareRun(trainOptions(message, marks)));
    summary = (await ready.train()).summary;
  } catch (err) {
    // A run that failed after it started has its stack in train.log; the report keeps the message.
    const cause = err instanceof RunFailedError ? err.cause : err;
    error = cause instanceof UsageError || err instanceof RunFailedError ? (cause as Error).message : cause instanceof Error ? (cause.stack ?? cause.message) : String(cause);
  }
  training = false;
  current = undefined;
  // A stop belongs to the run it was sent for; the next run starts clean.
  pendingStop = undefined;
  trainer = undefined;
  injectFault(message.name);
  await send({ type: 'done', summary: summary ?? readSummary(folderOf(message)), error, held: held(), marks });
}

/** What this process holds now (see RunnerHeld). */
function held(): RunnerHeld {
  // A run prepared ahead is the next run's, not something the last one left behind.
  let ahead = 0;
  for (const entry of prepared.values()) ahead += entry.ready?.tensors ?? 0;
  return { tensors: backendChoice === 'none' ? 0 : tf.memory().numTensors - ahead, rssMb: process.memoryUsage().rss / (1024 * 1024) };
}

/**
 * DLPHYS_RUNNER_FAULT=leak:NAME keeps a tensor alive after the run named NAME: how the tests show
 * that a run which leaks never trains beside the next one (the agent replaces its process).
 */
const fault = /^leak:(.+)$/.exec(process.env.DLPHYS_RUNNER_FAULT ?? '');
const leaked: tf.Tensor[] = [];
function injectFault(name: string): void {
  if (fault && fault[1] === name && backendChoice !== 'none') leaked.push(tf.ones([16]));
}

/** One program run (agent/runner/program_run.ts); needs no backend. */
async function runProgram(message: ProgramRunMessage): Promise<void> {
  training = true;
  current = message.name;
  program = new ProgramRun(
    message,
    (line) => void send({ type: 'metrics', line }),
    (pid) => void send({ type: 'program_pid', pid }),
  );
  if (pendingStop) program.stop(pendingStop);
  const { summary, error } = await program.run();
  program = undefined;
  training = false;
  current = undefined;
  pendingStop = undefined;
  await send({ type: 'done', summary, error });
}

function readSummary(dir: string): RunSummary | null {
  try {
    return JSON.parse(readFileSync(path.join(dir, 'summary.json'), 'utf8')) as RunSummary;
  } catch {
    return null;
  }
}

// Runs wait for this (the agent also waits for 'ready' before sending one).
const backendReady = backendChoice === 'none' ? Promise.resolve({ name: 'none' }) : useBackend(backendChoice);
try {
  const info = await backendReady;
  await send({ type: 'ready', backend: info.name, held: held() });
} catch (err) {
  await send({ type: 'done', summary: null, error: err instanceof Error ? err.message : String(err) });
  process.exitCode = 1;
  finish();
}
