/**
 * Search methods compared on a cheap objective with a known optimum: the same proposal code the
 * coordinator runs (lib/sweep/bayes.ts; random draws as lib/sweep/distributions.ts makes them),
 * each run's objective evaluated in this process, one run at a time. The objective is a bowl in
 * (x, log10 lr) with a third, irrelevant parameter and a categorical that shifts it, minimum 0.
 * Usage: npm run bench:search [-- --runs 30 --repeats 10]
 * Prints the median and quartiles of the best value found per method, and one JSON line.
 */
import { scriptArgs } from '../lib/cli/flags.js';
import { Rng } from '../lib/rng.js';
import { bayesNext, normalizeParameter, sample, type SearchRun } from '../lib/sweep/index.js';
import { textTable } from '../lib/text_table.js';

const args = scriptArgs({ runs: 30, repeats: 10 });
const params = [
  normalizeParameter('x', { distribution: 'uniform', min: -2, max: 2 }),
  normalizeParameter('lr', { distribution: 'log_uniform_values', min: 1e-5, max: 1 }),
  normalizeParameter('noise', { distribution: 'uniform', min: 0, max: 1 }),
  normalizeParameter('act', { values: ['relu', 'tanh', 'gelu'] }),
];
const objective = (v: unknown[]) => {
  const shift = { relu: 0.3, tanh: 0, gelu: 0.1 }[v[3] as string]!;
  return ((v[0] as number) - 0.7) ** 2 + (Math.log10(v[1] as number) + 3) ** 2 + shift;
};

function best(method: 'bayes' | 'random', seed: number): { best: number; ms: number } {
  const t0 = performance.now();
  const runs: SearchRun[] = [];
  const rng = new Rng(seed, 'random');
  for (let i = 0; i < args.runs; i++) {
    const [values] = method === 'bayes' ? bayesNext(params, runs, 1, 'min', new Rng(seed, `bayes ${i}`)) : [params.map((p) => sample(p, rng))];
    runs.push({ values: values!, state: 'finished', metric: objective(values!) });
  }
  return { best: Math.min(...runs.map((r) => r.metric!)), ms: performance.now() - t0 };
}

const q = (xs: number[], f: number) => [...xs].sort((a, b) => a - b)[Math.round(f * (xs.length - 1))]!;
const rows: string[][] = [];
const figures: Record<string, number> = { runs: args.runs, repeats: args.repeats };
for (const method of ['random', 'bayes'] as const) {
  const results = Array.from({ length: args.repeats }, (_, seed) => best(method, seed));
  const bests = results.map((r) => r.best);
  const msPerProposal = results.reduce((a, r) => a + r.ms, 0) / (args.repeats * args.runs);
  rows.push([method, q(bests, 0.25).toExponential(2), q(bests, 0.5).toExponential(2), q(bests, 0.75).toExponential(2), msPerProposal.toFixed(1)]);
  figures[`${method}_median_best`] = q(bests, 0.5);
  figures[`${method}_ms_per_proposal`] = msPerProposal;
}
console.log(textTable([['method', 'best q25', 'best median', 'best q75', 'ms/proposal'], ...rows]).join('\n'));
console.log(JSON.stringify({ bench: 'search', ...figures }));
