/**
 * Early termination through the orchestrator itself: the same program sweep of learning curves
 * (a Python program logging one value of the sweep metric per iteration, a few ms apart) run by a
 * real coordinator and one agent with and without `early_terminate`, counting the iterations the
 * runs actually logged (the rows stored) and whether the run with the best final value survived.
 * What bench/early_terminate.ts measures in process, here with stops travelling to the agent.
 * Usage: npm run bench:early-terminate-sweeps [-- --runs 16 --iters 60 --slots 2 --ms 20]
 * Prints the steps of each sweep, their ratio, and one JSON line. Needs python3.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { scriptArgs } from '../lib/cli/flags.js';
import { textTable } from '../lib/text_table.js';
import { query, startAgent, startCoordinator } from '../test/cluster.js';
import { tempDir } from '../test/helpers.js';

const args = scriptArgs({ runs: 16, iters: 60, slots: 2, ms: 20 });
// loss(t) = floor + (1 − floor)·t^(−rate), floor and rate from the run's seed.
const PROGRAM = `import random, time, wandb
run = wandb.init()
r = random.Random(wandb.config.seed)
floor, rate = 0.05 + 0.5 * r.random(), 0.2 + 0.8 * r.random()
for t in range(1, ${args.iters} + 1):
    wandb.log({"val_loss": floor + (1 - floor) * t ** -rate})
    time.sleep(${args.ms / 1000})
`;

async function sweep(earlyTerminate: string | null): Promise<{ steps: number; stopped: string[] }> {
  const dir = tempDir('dlphys-bench-et-');
  fs.writeFileSync(path.join(dir, 'train.py'), PROGRAM);
  const file = path.join(dir, 'sweep.yaml');
  fs.writeFileSync(
    file,
    ['name: curves', 'program: train.py', 'method: grid', 'metric: {name: val_loss, goal: minimize}', ...(earlyTerminate ? [`early_terminate: ${earlyTerminate}`] : []), 'parameters:', `  seed: {values: [${Array.from({ length: args.runs }, (_, i) => i).join(', ')}]}`, ''].join('\n'),
  );
  const db = path.join(dir, 'dlphys.db');
  const coord = await startCoordinator(['sweep', file, '--port', '0', '--db', db, '--runs-dir', path.join(dir, 'runs'), '--exit-when-done', '--no-dash']);
  const agent = startAgent(coord.address, ['--slots', String(args.slots), '--exit-when-idle', '--poll', '50']);
  const codes = await Promise.all([coord.exited, agent.exited]);
  if (codes.some((c) => c !== 0)) throw new Error(`a process failed (${codes.join(', ')})\n${coord.log()}\n${agent.log()}`);
  const steps = query<{ n: number }>(db, 'SELECT count(*) AS n FROM metrics')[0]!.n;
  const stopped = query<{ name: string }>(db, "SELECT name FROM runs WHERE state = 'early_stopped'").map((r) => r.name);
  return { steps, stopped };
}

if (spawnSync('python3', ['--version']).status !== 0) {
  console.log('python3 is not installed: skipped');
} else {
  const full = await sweep(null);
  // Which run is best: its final value at the last iteration, computed as the program does.
  const finals = Array.from({ length: args.runs }, (_, seed) => {
    const out = spawnSync('python3', ['-c', `import random; r = random.Random(${seed}); f, k = 0.05 + 0.5 * r.random(), 0.2 + 0.8 * r.random(); print(f + (1 - f) * ${args.iters} ** -k)`], { encoding: 'utf8' });
    return Number(out.stdout);
  });
  const bestSeed = finals.indexOf(Math.min(...finals));
  const width = Math.max(3, String(args.runs - 1).length);
  const bestName = `r${String(bestSeed).padStart(width, '0')}`;
  const rows: string[][] = [['none', String(full.steps), '1.000', '-', 'yes']];
  const figures: Record<string, number> = { runs: args.runs, iters: args.iters, slots: args.slots, steps_none: full.steps };
  for (const [name, rule] of [
    ['hyperband', '{type: hyperband, min_iter: 3, eta: 3}'],
    ['asha', '{type: asha, grace_period: 3, reduction_factor: 3, max_t: 60}'],
  ] as const) {
    const r = await sweep(rule);
    const kept = !r.stopped.includes(bestName);
    rows.push([name, String(r.steps), (r.steps / full.steps).toFixed(3), String(r.stopped.length), kept ? 'yes' : 'no']);
    figures[`${name}_steps_fraction`] = r.steps / full.steps;
    figures[`${name}_stopped`] = r.stopped.length;
    figures[`${name}_kept_best`] = kept ? 1 : 0;
  }
  console.log(textTable([['early_terminate', 'steps logged', 'vs none', 'runs stopped', `best run (${bestName}) kept`], ...rows]).join('\n'));
  console.log(JSON.stringify({ bench: 'early_terminate_sweeps', ...figures }));
}
