/**
 * Using the cores: 8 trainings of the MLP 784-256-256-10 (batch 128, SGD, softmax cross-entropy,
 * random data) as a sweep through a local coordinator and one CPU agent with 2 slots (one run per
 * core), against PyTorch (2 threads) training the same 8 one after another, timed in the same run.
 *
 *   npm run bench:sweep [-- --runs 8 --steps 300 --slots 2 --runs-per-process N --repeat 1]
 *
 * The agent runs with its defaults (runner processes reused) unless --runs-per-process is given.
 *
 * With --repeat N both sides run N times and each keeps its best: PyTorch's two threads vary by
 * half from one run to the next on a shared 2-core machine. Each repeat is a new coordinator,
 * agent, workspace and data cache (lib/data/cache.ts), so each starts as a new sweep would.
 *
 * Prints wall times, where each run's time went on the agent (bench/phases.ts: lease, start, data,
 * build, train, upload, report), the gaps between runs on a slot, the throughput ratio (PyTorch's
 * wall / ours) and one JSON line.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { scriptArgs } from '../lib/cli/flags.js';
import { query, startAgent, startCoordinator, workspace } from '../test/cluster.js';
import { tempDir } from '../test/helpers.js';
import { findTorchPython, REFERENCE_HINT, runTorch } from './torch_reference.js';
import { phaseFigures, phaseReport, readPhases, slotGaps } from './phases.js';
import type { RunPhases } from '../agent/phases.js';

// --runs-per-process 0: the agent's default.
const values = scriptArgs({ runs: 8, steps: 300, slots: 2, 'runs-per-process': 0, repeat: 1 });
const rppFlag = values['runs-per-process'] > 0 ? ['--runs-per-process', String(values['runs-per-process'])] : [];
const rppText = values['runs-per-process'] > 0 ? `--runs-per-process ${values['runs-per-process']}` : 'default flags';
const repeat = values.repeat;
const runs = values.runs;
const steps = values.steps;
const WIDTHS = [784, 256, 256, 10];
const BATCH = 128;
const LR = 0.01;
const N_TRAIN = 8192;
const LOG_EVERY = 50;

const sweep = {
  name: 'bench-sweep',
  method: 'grid',
  parameters: { seed: { values: Array.from({ length: runs }, (_, i) => i) } },
  base: {
    model: { name: 'mlp', kwargs: { widths: WIDTHS, activation: 'relu' } },
    init: { name: 'he' },
    optimizer: { name: 'sgd', kwargs: { lr: LR } },
    data: { name: 'synthetic', kwargs: { n_train: N_TRAIN, n_val: 256, dim: WIDTHS[0], classes: WIDTHS.at(-1), seed: 0 } },
    // Evaluation only at the end, on a small split: the comparison is about training steps.
    train: { steps, batch_size: BATCH, log_every: LOG_EVERY, eval_every: 0 },
  },
};

interface SweepRun {
  sweepWall: number;
  totalWall: number;
  perRun: { lease_to_start_s: number; training_s: number; start_to_report_s: number };
  phases: RunPhases[];
}

async function runSweep(): Promise<SweepRun> {
  const ws = workspace(sweep);
  const t0 = performance.now();
  const coord = await startCoordinator(['sweep', ws.sweepFile, '--port', '0', '--db', ws.db, '--runs-dir', ws.runsDir, '--exit-when-done']);
  // A data cache of its own: every repeat starts as a new sweep would, drawing its data once.
  const phasesFile = path.join(ws.dir, 'phases.jsonl');
  const agent = startAgent(coord.address, ['--slots', String(values.slots), '--exit-when-idle', '--poll', '100', ...rppFlag], {
    DLPHYS_CACHE_DIR: tempDir('dlphys-bench-cache-'),
    DLPHYS_PHASES_FILE: phasesFile,
  });
  const codes = await Promise.all([coord.exited, agent.exited]);
  const totalWall = (performance.now() - t0) / 1000;
  if (codes.some((c) => c !== 0)) throw new Error(`a process failed (${codes.join(', ')})\n${coord.log()}\n${agent.log()}`);
  const attempts = query<{ run_id: string; leased_at: number; started_at: number; ended_at: number }>(ws.db, "SELECT run_id, leased_at, started_at, ended_at FROM attempts WHERE outcome = 'completed'");
  if (attempts.length !== runs) throw new Error(`${attempts.length} of ${runs} runs completed`);
  // From the first lease to the last report: the sweep itself, without the processes' start-up.
  const sweepWall = (Math.max(...attempts.map((a) => a.ended_at)) - Math.min(...attempts.map((a) => a.leased_at))) / 1000;
  // Where a run's time goes: lease to start (its process taking the job, data, model), training
  // (summary.json's wall_time: the steps and the final evaluation), start to report (with upload).
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const trainWall = attempts.map((a) => JSON.parse(readFileSync(path.join(ws.runsDir, a.run_id, 'summary.json'), 'utf8')).wall_time as number);
  return {
    sweepWall,
    totalWall,
    phases: readPhases(phasesFile),
    perRun: {
      lease_to_start_s: mean(attempts.map((a) => (a.started_at - a.leased_at) / 1000)),
      training_s: mean(trainWall),
      start_to_report_s: mean(attempts.map((a) => (a.ended_at - a.started_at) / 1000)),
    },
  };
}

const sweeps: SweepRun[] = [];
for (let r = 0; r < repeat; r++) {
  process.stderr.write(`dlphys sweep${repeat > 1 ? ` (${r + 1}/${repeat})` : ''}...\n`);
  sweeps.push(await runSweep());
}
const { sweepWall, totalWall, perRun, phases } = sweeps.reduce((a, b) => (b.sweepWall < a.sweepWall ? b : a));
const gaps = slotGaps(phases);

const python = findTorchPython();
let torch: ReturnType<typeof runTorch> | null = null;
for (let r = 0; python && r < repeat; r++) {
  process.stderr.write(`pytorch${repeat > 1 ? ` (${r + 1}/${repeat})` : ''}...\n`);
  const result = runTorch(python, { runs, steps, warmup: 0, batch: BATCH, n: N_TRAIN, lr: LR, logEvery: LOG_EVERY, threads: 2, widths: WIDTHS });
  if ('error' in result) {
    torch ??= result;
    break;
  }
  if (!torch || 'error' in torch || result.wall_s < torch.wall_s) torch = result;
}

if (repeat > 1) console.log(`best of ${repeat} on each side`);
console.log(`${runs} runs x ${steps} steps of MLP ${WIDTHS.join('-')}, batch ${BATCH}; ${os.availableParallelism()} cores, load ${os.loadavg()[0]!.toFixed(2)}`);
console.log(`dlphys, 1 agent x ${values.slots} slots, ${rppText}: ${sweepWall.toFixed(1)} s from first lease to last report (${totalWall.toFixed(1)} s with coordinator and agent start-up)`);
console.log(`per run (mean): lease to start ${perRun.lease_to_start_s.toFixed(2)} s, training ${perRun.training_s.toFixed(2)} s, start to report ${perRun.start_to_report_s.toFixed(2)} s`);
console.log(['where a run\'s time goes on the agent (ms):', ...phaseReport(phases, gaps)].join('\n'));
if (!torch) console.log(`reference skipped: no python3 with torch (${REFERENCE_HINT})`);
else if ('error' in torch) console.log(`reference failed: ${torch.error}`);
else {
  console.log(`PyTorch, 2 threads, one after another: ${torch.wall_s.toFixed(1)} s`);
  console.log(`throughput vs PyTorch: ${(torch.wall_s / sweepWall).toFixed(3)} (aim >= 0.6)`);
}
const reference = torch && !('error' in torch) ? torch : null;
console.log(
  JSON.stringify({
    bench: 'sweep',
    runs,
    steps,
    slots: values.slots,
    runs_per_process: values['runs-per-process'] || 'default',
    repeat,
    sweep_wall_s: sweepWall,
    total_wall_s: totalWall,
    per_run: perRun,
    phases: phaseFigures(phases, gaps),
    torch_wall_s: reference?.wall_s ?? null,
    ratio: reference ? reference.wall_s / sweepWall : null,
    loadavg: os.loadavg()[0],
  }),
);
