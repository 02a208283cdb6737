/**
 * What the research probes cost: examples/mlp.json (mlp 32-128-128-4, 500 steps, batch 128,
 * evaluation every 100 steps) trained without probes (the reference, in the same run), with each
 * probe alone, and with all four (criticality, preact_stats, ntk, fli) at their default kwargs,
 * which measure at step 0, every eval_every steps and at the last step. Prints the fit's wall
 * time, the overhead against the reference, and each probe's own time from the fit result (what
 * summary.json's callback_time records). Runs alternate and repeat; the best of each is kept, as
 * other load on a shared machine only ever slows a run down.
 *
 *   node --import tsx bench/probes.ts [--config examples/mlp.json] [--repeat 3] [--backend wasm]
 *
 * The issue's budget: all four together add at most 20 % to the wall time.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { useBackend, type BackendChoice } from '../lib/backend/index.js';
import { positiveInt } from '../lib/cli/flags.js';
import { buildExperiment, fitExperiment, resolveConfig } from '../lib/experiment.js';
import { textTable } from '../lib/text_table.js';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const PROBES = ['criticality', 'preact_stats', 'ntk', 'fli'] as const;

const { values } = parseArgs({
  options: {
    config: { type: 'string', default: path.join(repoRoot, 'examples', 'mlp.json') },
    repeat: { type: 'string', default: '3' },
    backend: { type: 'string', default: 'wasm' },
  },
});
const repeat = positiveInt('--repeat')(values.repeat!);
const configPath = path.resolve(values.config!);
const raw = JSON.parse(fs.readFileSync(configPath, 'utf8')) as Record<string, unknown>;

interface Variant {
  label: string;
  probes: readonly string[];
}
const variants: Variant[] = [
  { label: 'no probes (reference)', probes: [] },
  ...PROBES.map((p) => ({ label: p, probes: [p] })),
  { label: 'all four', probes: PROBES },
];

/** One fit of the config with these probes; seconds of fit and of each callback. */
async function once(probes: readonly string[]): Promise<{ wall: number; callbacks: Record<string, number> }> {
  const config = resolveConfig({ ...raw, callbacks: probes.map((name) => ({ name })) }, configPath);
  const exp = buildExperiment(config, path.dirname(configPath));
  try {
    const start = performance.now();
    const result = await fitExperiment(exp, { runDir: null });
    return { wall: (performance.now() - start) / 1000, callbacks: result.callbackTime };
  } finally {
    exp.dispose();
  }
}

const backend = await useBackend(values.backend as BackendChoice);
process.stderr.write(`backend ${backend.name}${backend.threads ? ` (${backend.threads} threads)` : ''}, ${repeat} repeats of ${variants.length} variants, load ${os.loadavg()[0]!.toFixed(2)}\n`);
await once([]); // warm-up: kernels compiled, data cached
const best = new Map<string, { wall: number; callbacks: Record<string, number> }>();
for (let r = 0; r < repeat; r++) {
  for (const v of variants) {
    const m = await once(v.probes);
    const prev = best.get(v.label);
    if (!prev || m.wall < prev.wall) best.set(v.label, m);
    process.stderr.write('.');
  }
}
process.stderr.write('\n');

const reference = best.get(variants[0]!.label)!.wall;
const rows = variants.map((v) => {
  const m = best.get(v.label)!;
  const own = v.probes.map((p) => m.callbacks[p] ?? 0).reduce((a, b) => a + b, 0);
  return [v.label, m.wall.toFixed(3), `${(((m.wall - reference) / reference) * 100).toFixed(1)} %`, own.toFixed(3)];
});
process.stdout.write(`${path.relative(process.cwd(), configPath)} on ${backend.name}, best of ${repeat}\n`);
process.stdout.write(textTable([['probes', 'wall s', 'overhead', 'probe s'], ...rows], { right: [false, true, true, true] }).join('\n') + '\n');
const all = best.get('all four')!;
process.stdout.write(
  JSON.stringify({ bench: 'probes', backend: backend.name, reference_s: reference, all_s: all.wall, overhead: all.wall / reference - 1, callback_time: all.callbacks }) + '\n',
);
