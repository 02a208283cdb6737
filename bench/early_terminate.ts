/**
 * Early termination's saving, measured with the rules the coordinator runs
 * (lib/sweep/early_terminate.ts) on a sweep of learning curves with a known best run: N runs of up
 * to T iterations each, K at a time, every run logging one value of the sweep metric per
 * iteration (interleaved across the K running runs, as rows arrive at a coordinator), each judged
 * when its row arrives. Curves: loss(t) = floor + (1 − floor)·t^(−rate), with floor and rate
 * drawn per run, so runs cross rarely (as real learning curves of one model family do).
 * Usage: npm run bench:early-terminate [-- --runs 30 --iters 81 --slots 4 --repeats 10]
 * Prints, per rule: the fraction of the steps of the same sweep without early termination, and how
 * often the best run was kept; then one JSON line.
 */
import { scriptArgs } from '../lib/cli/flags.js';
import { Rng } from '../lib/rng.js';
import { earlyStop, parseEarlyTerminate, valuesAtOf, type EarlyTerminate } from '../lib/sweep/early_terminate.js';
import { textTable } from '../lib/text_table.js';

const args = scriptArgs({ runs: 30, iters: 81, slots: 4, repeats: 10 });

function simulate(rule: EarlyTerminate | null, seed: number): { steps: number; keptBest: boolean } {
  const rng = new Rng(seed, 'curves');
  const curves = Array.from({ length: args.runs }, () => {
    const floor = 0.05 + 0.5 * rng.uniform();
    const rate = 0.2 + 0.8 * rng.uniform();
    return (t: number) => floor + (1 - floor) * Math.pow(t, -rate);
  });
  const finalOf = curves.map((f) => f(args.iters));
  const best = finalOf.indexOf(Math.min(...finalOf));
  const histories: number[][] = curves.map(() => []);
  const stopped = new Set<number>();
  let next = 0;
  const running: number[] = [];
  let steps = 0;
  while (next < args.runs || running.length) {
    while (running.length < args.slots && next < args.runs) running.push(next++);
    // One row from each running run, in turn.
    for (const r of [...running]) {
      const h = histories[r]!;
      h.push(curves[r]!(h.length + 1));
      steps++;
      const done = h.length >= args.iters;
      const stop = !done && rule !== null && earlyStop(rule, 'min', h, valuesAtOf(histories)) !== null;
      if (stop) stopped.add(r);
      if (done || stop) running.splice(running.indexOf(r), 1);
    }
  }
  return { steps, keptBest: !stopped.has(best) };
}

const rules: [string, EarlyTerminate | null][] = [
  ['none', null],
  ['hyperband min_iter 3 eta 3', parseEarlyTerminate({ type: 'hyperband', min_iter: 3, eta: 3 }, 'bench')],
  ['hyperband max_iter 81 s 3 eta 3 (not strict)', parseEarlyTerminate({ type: 'hyperband', max_iter: 81, s: 3, eta: 3, strict: false }, 'bench')],
  ['asha grace 3 rf 3 max_t 81', parseEarlyTerminate({ type: 'asha', grace_period: 3, reduction_factor: 3, max_t: 81 }, 'bench')],
];
const baseline = Array.from({ length: args.repeats }, (_, seed) => simulate(null, seed).steps);
const rows: string[][] = [];
const figures: Record<string, number> = { runs: args.runs, iters: args.iters, slots: args.slots, repeats: args.repeats };
for (const [name, rule] of rules) {
  const results = Array.from({ length: args.repeats }, (_, seed) => simulate(rule, seed));
  const fraction = results.reduce((a, r, i) => a + r.steps / baseline[i]!, 0) / args.repeats;
  const kept = results.filter((r) => r.keptBest).length;
  rows.push([name, fraction.toFixed(3), `${kept}/${args.repeats}`]);
  figures[`${name.split(' ')[0]}${name.includes('max_iter') ? '_max_iter' : ''}_steps_fraction`] = fraction;
  figures[`${name.split(' ')[0]}${name.includes('max_iter') ? '_max_iter' : ''}_kept_best`] = kept / args.repeats;
}
console.log(textTable([['rule', 'steps vs none', 'best run kept'], ...rows]).join('\n'));
console.log(JSON.stringify({ bench: 'early_terminate', ...figures }));
