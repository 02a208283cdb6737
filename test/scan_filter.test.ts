import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { UsageError } from '../lib/errors.js';
import { parseWhere } from '../lib/scan/filter.js';
import { scanRuns, type ScanTable } from '../lib/scan/scan.js';
import { tQuantile975 } from '../lib/scan/student_t.js';
import { runCli, tempDir, writeJson } from './helpers.js';

/** As scipy.stats.t.ppf(0.975, 2) printed it (older releases; the exact value is 4.3026527297494638…, 1.6e-10 less). */
const T975_DF2 = 4.302652729911275;

interface RunSpec {
  readonly lr: number;
  readonly seed?: number;
  readonly activation?: string;
  readonly bias?: boolean | null;
  readonly note?: string;
  readonly status?: string;
  /** Final (and best) val_loss; NaN for a diverged run, undefined for none logged. */
  readonly valLoss?: number;
  readonly valAcc?: number;
}

/** A run folder with config.json and summary.json, as the trainer leaves a finished run. */
function writeRun(root: string, name: string, spec: RunSpec): void {
  const kwargs: Record<string, unknown> = { widths: [8, 16, 3], activation: spec.activation ?? 'relu' };
  if (spec.bias !== undefined) kwargs.bias = spec.bias;
  writeJson(path.join(root, name, 'config.json'), {
    name,
    seed: spec.seed ?? 0,
    model: { name: 'mlp', kwargs },
    optimizer: { name: 'sgd', kwargs: { lr: spec.lr } },
    ...(spec.note !== undefined ? { note: spec.note } : {}),
  });
  const final: Record<string, unknown> = {};
  // summary.json writes the non-finite as strings (JSON has no NaN or Infinity).
  if (spec.valLoss !== undefined) final.val_loss = Number.isFinite(spec.valLoss) ? spec.valLoss : String(spec.valLoss);
  if (spec.valAcc !== undefined) final.val_acc = spec.valAcc;
  writeJson(path.join(root, name, 'summary.json'), {
    name,
    status: spec.status ?? 'completed',
    reason: null,
    steps: 100,
    final,
    best: Object.fromEntries(Object.entries(final).filter(([, v]) => typeof v === 'number')),
    wall_time: 1,
    error: null,
  });
}

/**
 * Five runs: lr 2 and 10 (numbers whose string order is the reverse of their order), tanh and
 * relu, a bias true, false or absent, a `note` in one config only, one diverged run.
 */
function makeSweep(): string {
  const root = tempDir('dlphys-scan-filter-');
  writeRun(root, 'a', { lr: 2, activation: 'tanh', bias: true, valLoss: 0.5, valAcc: 0.8 });
  writeRun(root, 'b', { lr: 10, activation: 'relu', bias: false, valLoss: 0.3, valAcc: 0.9 });
  writeRun(root, 'c', { lr: 0.5, activation: 'tanh', bias: null, note: 'retry', valLoss: 0.7, valAcc: 0.6 });
  writeRun(root, 'd', { lr: 0.1, activation: 'relu', valLoss: 0.4 });
  writeRun(root, 'e', { lr: 100, activation: 'relu', status: 'diverged', valLoss: NaN });
  return root;
}

const sweep = makeSweep();
const runsOf = (table: ScanTable) => table.rows.map((row) => row.run);
const where = (...conditions: string[]) => runsOf(scanRuns(sweep, { where: conditions }));

/** Three seeds at lr 0.1 (val_loss 0.5, 0.6, 0.9); at lr 0.5 one completed run and one diverged. */
function makeSeeds(): string {
  const root = tempDir('dlphys-scan-seeds-');
  [0.5, 0.6, 0.9].forEach((valLoss, seed) => writeRun(root, `lr0.1-s${seed}`, { lr: 0.1, seed, valLoss }));
  writeRun(root, 'lr0.5-s0', { lr: 0.5, seed: 0, valLoss: 0.2 });
  writeRun(root, 'lr0.5-s1', { lr: 0.5, seed: 1, status: 'diverged', valLoss: NaN });
  return root;
}

const seeds = makeSeeds();

function near(actual: unknown, expected: number, tolerance = 1e-12): void {
  assert.equal(typeof actual, 'number', `expected a number, got ${String(actual)}`);
  assert.ok(Math.abs((actual as number) - expected) <= tolerance, `${String(actual)} is not ${expected}`);
}

describe('tQuantile975', () => {
  test('matches t_{0.975, 2} and the textbook values, and tends to the normal quantile', () => {
    near(tQuantile975(2), T975_DF2, 1e-9);
    near(tQuantile975(1), 12.706204736174705, 1e-12);
    near(tQuantile975(30), 2.042272456301238, 1e-12);
    near(tQuantile975(45), 2.0141033888808466, 1e-9);
    near(tQuantile975(Infinity), 1.959963984540054, 1e-12);
  });

  test('decreases with the degrees of freedom, across the table and the expansion', () => {
    for (let df = 1; df < 200; df++) assert.ok(tQuantile975(df + 1) < tQuantile975(df), `df ${df}`);
    assert.ok(tQuantile975(200) > tQuantile975(Infinity));
  });
});

describe('scan --group-by statistics', () => {
  const table = scanRuns(seeds, { groupBy: ['optimizer.kwargs.lr'], metric: 'val_loss' });
  const group = (lr: number) => table.rows.find((row) => row['optimizer.kwargs.lr'] === lr)!;

  test('gives every metric column its mean, std, count, min, max and 95% interval, all in the columns, three in the text', () => {
    const stats = (c: string) => ['mean', 'std', 'count', 'min', 'max', 'ci95_low', 'ci95_high'].map((s) => `${c}.${s}`);
    assert.deepEqual(table.columns, ['optimizer.kwargs.lr', 'count', ...stats('final.val_loss'), ...stats('best.val_loss')]);
    assert.deepEqual(table.textColumns, [
      'optimizer.kwargs.lr',
      'count',
      'final.val_loss.mean',
      'final.val_loss.std',
      'final.val_loss.count',
      'best.val_loss.mean',
      'best.val_loss.std',
      'best.val_loss.count',
    ]);
    assert.deepEqual(scanRuns(seeds, { groupBy: ['optimizer.kwargs.lr'], metric: 'val_loss', all: true }).textColumns, table.columns);
  });

  test('three seeds: mean, sample std and the Student t interval as computed by hand', () => {
    // Values 0.5, 0.6, 0.9: mean 2/3; squared deviations (1/6)², (1/15)², (7/30)² sum to 13/150,
    // so s² = 13/300; half-width t·s/√3 = t·√13/30.
    const row = group(0.1);
    assert.equal(row.count, 3);
    assert.equal(row['final.val_loss.count'], 3);
    near(row['final.val_loss.mean'], 2 / 3);
    near(row['final.val_loss.std'], Math.sqrt(13 / 300));
    near(row['final.val_loss.min'], 0.5);
    near(row['final.val_loss.max'], 0.9);
    const half = (T975_DF2 * Math.sqrt(13)) / 30;
    near(row['final.val_loss.ci95_low'], 2 / 3 - half, 1e-9);
    near(row['final.val_loss.ci95_high'], 2 / 3 + half, 1e-9);
    // The same in numbers: 0.6667 ∓ 0.5171.
    near(row['final.val_loss.std'], 0.20816659994661, 1e-13);
    near(row['final.val_loss.ci95_low'], 0.149552165393, 1e-9);
    near(row['final.val_loss.ci95_high'], 1.183781167940, 1e-9);
  });

  test('a group with one value has no std and no interval; a NaN counts as a member but not as a value', () => {
    const row = group(0.5);
    assert.equal(row.count, 2);
    assert.equal(row['final.val_loss.count'], 1);
    near(row['final.val_loss.mean'], 0.2);
    near(row['final.val_loss.min'], 0.2);
    near(row['final.val_loss.max'], 0.2);
    for (const stat of ['std', 'ci95_low', 'ci95_high']) assert.equal(row[`final.val_loss.${stat}`], null, stat);
  });

  test('groups are ranked by the mean of the metric, best first', () => {
    assert.deepEqual(
      table.rows.map((row) => row['optimizer.kwargs.lr']),
      [0.5, 0.1],
    );
  });
});

describe('scan --where', () => {
  test('= and != compare numbers as numbers, whatever the spelling', () => {
    assert.deepEqual(where('optimizer.kwargs.lr=10'), ['b']);
    assert.deepEqual(where('optimizer.kwargs.lr=1e1'), ['b']);
    assert.deepEqual(where('optimizer.kwargs.lr==10'), ['b']);
    assert.deepEqual(where('optimizer.kwargs.lr!=10'), ['a', 'c', 'd', 'e']);
  });

  test('<, >, <= and >= order numbers by value, not as text', () => {
    // As strings "10" < "3"; as numbers it is not.
    assert.deepEqual(where('optimizer.kwargs.lr<3'), ['a', 'c', 'd']);
    assert.deepEqual(where('optimizer.kwargs.lr>2'), ['b', 'e']);
    assert.deepEqual(where('optimizer.kwargs.lr<=2'), ['a', 'c', 'd']);
    assert.deepEqual(where('optimizer.kwargs.lr>=10'), ['b', 'e']);
    assert.deepEqual(where('optimizer.kwargs.lr >= 0.5', 'optimizer.kwargs.lr <= 10'), ['a', 'b', 'c']);
  });

  test('compares other values as strings: status, an activation, the run name', () => {
    assert.deepEqual(where('status=completed'), ['a', 'b', 'c', 'd']);
    assert.deepEqual(where('status!=completed'), ['e']);
    assert.deepEqual(where('model.kwargs.activation=tanh'), ['a', 'c']);
    assert.deepEqual(where('model.kwargs.activation=tanh', 'optimizer.kwargs.lr<1'), ['c']);
    assert.deepEqual(where('run>c'), ['d', 'e']);
  });

  test('takes JSON values: booleans, null and arrays as scan shows them', () => {
    assert.deepEqual(where('model.kwargs.bias=true'), ['a']);
    assert.deepEqual(where('model.kwargs.bias=false'), ['b']);
    assert.deepEqual(where('model.kwargs.bias=null'), ['c']);
    assert.deepEqual(where('model.kwargs.widths=[8, 16, 3]'), ['a', 'b', 'c', 'd', 'e']);
  });

  test('a run without the key fails =, < and >, and passes !=', () => {
    assert.deepEqual(where('note=retry'), ['c']);
    assert.deepEqual(where('note<z'), ['c']);
    assert.deepEqual(where('note>a'), ['c']);
    assert.deepEqual(where('note!=retry'), ['a', 'b', 'd', 'e']);
    // bias is absent from d and e.
    assert.deepEqual(where('model.kwargs.bias!=true'), ['b', 'c', 'd', 'e']);
  });

  test('tests metric columns, also of a metric the table does not show; NaN is below and above nothing', () => {
    assert.deepEqual(where('final.val_loss<0.45'), ['b', 'd']);
    assert.deepEqual(where('final.val_loss>0.45'), ['a', 'c']);
    assert.deepEqual(where('final.val_loss=NaN'), ['e']);
    assert.deepEqual(where('best.val_acc>=0.8'), ['a', 'b']);
    const table = scanRuns(sweep, { metric: 'val_acc', where: ['final.val_loss<0.45'] });
    assert.deepEqual(runsOf(table), ['b', 'd']);
    assert.ok(!table.columns.includes('final.val_loss'));
  });

  test('a key in no run is a usage error naming it and the known keys, on one line', () => {
    assert.throws(
      () => scanRuns(sweep, { where: ['optimizer.kwargs.lrr<1'] }),
      (err: unknown) =>
        err instanceof UsageError &&
        /^unknown --where key "optimizer\.kwargs\.lrr"; known keys: run, status, steps, .*optimizer\.kwargs\.lr, .*final\.val_loss/.test(err.message) &&
        !err.message.includes('\n'),
    );
  });

  test('an expression without an operator or a key is a usage error', () => {
    assert.throws(() => parseWhere('status'), (err: unknown) => err instanceof UsageError && /has no operator/.test(err.message));
    assert.throws(() => parseWhere('=3'), (err: unknown) => err instanceof UsageError && /has no key/.test(err.message));
    assert.deepEqual(parseWhere('name=a=b'), { key: 'name', op: '=', value: 'a=b', text: 'name=a=b' });
  });

  test('filters before grouping: groups count only the runs kept', () => {
    const table = scanRuns(seeds, { groupBy: ['optimizer.kwargs.lr'], metric: 'val_loss', where: ['run!=lr0.1-s2'] });
    const row = table.rows.find((r) => r['optimizer.kwargs.lr'] === 0.1)!;
    assert.equal(row.count, 2);
    near(row['final.val_loss.mean'], 0.55);
    assert.deepEqual(
      table.runs.map((run) => run.path),
      ['lr0.5-s0', 'lr0.1-s0', 'lr0.1-s1', 'lr0.5-s1'],
    );
  });
});

describe('scan --top', () => {
  test('keeps the K best runs by the metric, after filtering and sorting', () => {
    assert.deepEqual(runsOf(scanRuns(sweep, { metric: 'val_loss', top: 2 })), ['b', 'd']);
    assert.deepEqual(runsOf(scanRuns(sweep, { metric: 'val_acc', top: 2 })), ['b', 'a']);
    assert.deepEqual(runsOf(scanRuns(sweep, { metric: 'val_loss', top: 2, where: ['model.kwargs.activation=tanh'] })), ['a', 'c']);
    assert.deepEqual(scanRuns(sweep, { metric: 'val_loss', top: 2 }).runs.map((run) => run.path), ['b', 'd']);
  });

  test('never keeps a run without a value of the metric, even when K is larger', () => {
    // e diverged (NaN), d logged no val_acc.
    assert.deepEqual(runsOf(scanRuns(sweep, { metric: 'val_loss', top: 10 })), ['b', 'd', 'a', 'c']);
    assert.deepEqual(runsOf(scanRuns(sweep, { metric: 'val_acc', top: 10 })), ['b', 'a', 'c']);
  });

  test('an infinite value (a diverged run) is never the best', () => {
    const root = tempDir('dlphys-scan-inf-');
    writeRun(root, 'ok', { lr: 0.1, valLoss: 0.25 });
    // A loss that ran off to -Infinity is the "best" its trainer saw.
    for (const [name, value] of [['neg', '-Infinity'], ['pos', 'Infinity']] as const) {
      writeRun(root, name, { lr: 1, status: 'diverged' });
      writeJson(path.join(root, name, 'summary.json'), { name, status: 'diverged', steps: 3, final: { val_loss: value }, best: { val_loss: value }, wall_time: 1 });
    }
    assert.deepEqual(runsOf(scanRuns(root, { metric: 'val_loss', goal: 'min' })), ['ok', 'neg', 'pos']);
    assert.deepEqual(runsOf(scanRuns(root, { metric: 'val_loss', goal: 'min', top: 3 })), ['ok']);
  });

  test('with --group-by keeps the K best groups', () => {
    const table = scanRuns(seeds, { groupBy: ['optimizer.kwargs.lr'], metric: 'val_loss', top: 1 });
    assert.equal(table.rows.length, 1);
    assert.equal(table.rows[0]!['optimizer.kwargs.lr'], 0.5);
    assert.deepEqual(
      table.runs.map((run) => run.path),
      ['lr0.5-s0', 'lr0.5-s1'],
    );
  });

  test('without a metric, or with K not a positive integer, is a usage error', () => {
    assert.throws(() => scanRuns(sweep, { top: 3 }), (err: unknown) => err instanceof UsageError && /^--top needs --metric/.test(err.message));
    assert.throws(() => scanRuns(sweep, { metric: 'val_loss', top: 0 }), (err: unknown) => err instanceof UsageError && /positive integer/.test(err.message));
  });
});

describe('dlphys scan --where --top', () => {
  test('filters and keeps the best runs, all --where conditions holding', () => {
    const r = runCli(['scan', sweep, '--where', 'status=completed', '--where', 'optimizer.kwargs.lr<5', '--metric', 'val_loss', '--top', '2', '--format', 'json']);
    assert.equal(r.status, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as Record<string, unknown>[];
    assert.deepEqual(
      rows.map((row) => row.run),
      ['d', 'a'],
    );
  });

  test('--top without --metric, and an unknown --where key, are one line on stderr and exit code 2', () => {
    const top = runCli(['scan', sweep, '--top', '3']);
    assert.equal(top.status, 2);
    assert.match(top.stderr, /^dlphys: --top needs --metric .*\n$/);
    const key = runCli(['scan', sweep, '--where', 'lr=0.1']);
    assert.equal(key.status, 2);
    assert.match(key.stderr, /^dlphys: unknown --where key "lr"; known keys: run, status, steps, .*\n$/);
  });

  test('a grouped text table shows mean, std and count; --all and CSV every statistic', () => {
    const args = ['scan', seeds, '--group-by', 'optimizer.kwargs.lr', '--metric', 'val_loss'];
    const text = runCli(args);
    assert.equal(text.status, 0, text.stderr);
    const header = text.stdout.split('\n')[0]!.trim().split(/ +/);
    assert.deepEqual(header, ['optimizer.kwargs.lr', 'count', 'final.val_loss.mean', 'final.val_loss.std', 'final.val_loss.count', 'best.val_loss.mean', 'best.val_loss.std', 'best.val_loss.count']);
    const all = runCli([...args, '--all']);
    assert.match(all.stdout.split('\n')[0]!, /final\.val_loss\.ci95_low +final\.val_loss\.ci95_high/);
    const csv = runCli([...args, '--format', 'csv']);
    assert.match(csv.stdout.split('\r\n')[0]!, /,final\.val_loss\.min,final\.val_loss\.max,final\.val_loss\.ci95_low,final\.val_loss\.ci95_high,/);
  });
});
