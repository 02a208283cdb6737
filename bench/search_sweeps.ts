/**
 * bayes against random through the orchestrator itself: the same W&B-style program sweep (a
 * cheap objective with a known minimum, as a Python program logging one value) run by a real
 * coordinator and one agent, once per method and seed, each sweep capped at the same run_cap.
 * What bench/search.ts measures in process, here end to end: proposals made at lease time from
 * the database, runs landing, metrics reaching the search.
 * Usage: npm run bench:search-sweeps [-- --runs 20 --repeats 3 --slots 2]
 * Prints the median best value per method and one JSON line. Needs python3 (says so otherwise).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { scriptArgs } from '../lib/cli/flags.js';
import { textTable } from '../lib/text_table.js';
import { query, startAgent, startCoordinator } from '../test/cluster.js';
import { tempDir } from '../test/helpers.js';

const args = scriptArgs({ runs: 20, repeats: 3, slots: 2 });
// Minimum 0 at x = 0.7, lr = 1e-3, act = tanh.
const PROGRAM = `import math, wandb
run = wandb.init()
c = wandb.config
shift = {"relu": 0.3, "tanh": 0.0, "gelu": 0.1}[c.act]
wandb.log({"loss": (c.x - 0.7) ** 2 + (math.log10(c.lr) + 3) ** 2 + shift})
`;

async function sweep(method: 'bayes' | 'random', seed: number): Promise<number> {
  const dir = tempDir('dlphys-bench-search-');
  fs.writeFileSync(path.join(dir, 'train.py'), PROGRAM);
  const file = path.join(dir, 'sweep.yaml');
  fs.writeFileSync(
    file,
    [
      `name: ${method}-${seed}`,
      'program: train.py',
      `method: ${method}`,
      `seed: ${seed}`,
      `run_cap: ${args.runs}`,
      'metric: {name: loss, goal: minimize}',
      'parameters:',
      '  x: {min: -2.0, max: 2.0}',
      '  lr: {distribution: log_uniform_values, min: 0.00001, max: 1}',
      '  act: {values: [relu, tanh, gelu]}',
      '',
    ].join('\n'),
  );
  const db = path.join(dir, 'dlphys.db');
  const coord = await startCoordinator(['sweep', file, '--port', '0', '--db', db, '--runs-dir', path.join(dir, 'runs'), '--exit-when-done', '--no-dash']);
  const agent = startAgent(coord.address, ['--slots', String(args.slots), '--exit-when-idle', '--poll', '50']);
  const codes = await Promise.all([coord.exited, agent.exited]);
  if (codes.some((c) => c !== 0)) throw new Error(`${method} seed ${seed}: a process failed (${codes.join(', ')})\n${coord.log()}\n${agent.log()}`);
  const bests = query<{ summary_json: string }>(db, "SELECT summary_json FROM runs WHERE state = 'completed'").map(
    (r) => (JSON.parse(r.summary_json) as { final: { loss: number } }).final.loss,
  );
  if (bests.length !== args.runs) throw new Error(`${method} seed ${seed}: ${bests.length} of ${args.runs} runs completed`);
  return Math.min(...bests);
}

if (spawnSync('python3', ['--version']).status !== 0) {
  console.log('python3 is not installed: skipped');
} else {
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
  const figures: Record<string, number> = { runs: args.runs, repeats: args.repeats, slots: args.slots };
  const rows: string[][] = [];
  for (const method of ['random', 'bayes'] as const) {
    const t0 = performance.now();
    const bests: number[] = [];
    for (let seed = 0; seed < args.repeats; seed++) bests.push(await sweep(method, seed));
    figures[`${method}_median_best`] = median(bests);
    figures[`${method}_s_per_sweep`] = (performance.now() - t0) / 1000 / args.repeats;
    rows.push([method, median(bests).toExponential(2), bests.map((b) => b.toExponential(1)).join(' '), figures[`${method}_s_per_sweep`]!.toFixed(1)]);
  }
  console.log(textTable([['method', 'median best', 'per seed', 's per sweep'], ...rows]).join('\n'));
  console.log(JSON.stringify({ bench: 'search_sweeps', ...figures }));
}
