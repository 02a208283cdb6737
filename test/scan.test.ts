import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { UsageError } from '../lib/errors.js';
import { formatNumber } from '../lib/format_number.js';
import { formatCsv, formatText } from '../lib/scan/format.js';
import { scanRuns, type ScanTable } from '../lib/scan/scan.js';
import { runCli, tempDir, writeJson, writeText } from './helpers.js';

const host = os.hostname();
/** A pid that was alive a moment ago and is not any more. */
const deadPid = spawnSync(process.execPath, ['-e', '']).pid!;

function config(name: string, lr: number, prov: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    seed: 0,
    model: { name: 'mlp', kwargs: { widths: [32, 128, 128, 4], activation: 'relu', bias: true } },
    init: { name: 'lecun', kwargs: {} },
    optimizer: { name: 'sgd', kwargs: { lr, momentum: 0.9 } },
    schedule: { name: 'constant' },
    data: { name: 'synthetic', kwargs: { dim: 32, classes: 4 } },
    train: { steps: 300, batch_size: 128 },
    callbacks: [],
    provenance: { version: '0.1.0', git_commit: null, backend: 'wasm', seed: 0, host: 'elsewhere', pid: 1, started_at: '2026-11-26T14:00:00.000Z', node: 'v20.20.2', ...prov },
  };
}

function metricLines(lines: Record<string, unknown>[]): string {
  return lines.map((l) => JSON.stringify(l) + '\n').join('');
}

/** Train lines at steps 100, 200, 300 and val lines after each; val_acc peaks at step 200, val_loss bottoms there. */
function history(scale: number): Record<string, unknown>[] {
  const loss = [1, 0.7, 0.4];
  const acc = [0.4, 0.6, 0.8];
  const valLoss = [1.2, 0.6, 0.9];
  const valAcc = [0.5, 0.8, 0.7];
  return [100, 200, 300].flatMap((step, i) => [
    { step, epoch: i, time: step / 100, split: 'train', loss: loss[i]! * scale, acc: acc[i]!, lr: 0.1, steps_per_sec: 50 },
    { step, epoch: i, time: step / 100 + 0.1, split: 'val', val_loss: valLoss[i]! * scale, val_acc: valAcc[i]! * scale },
  ]);
}

function summary(name: string, status: string, final: Record<string, unknown>, best: Record<string, unknown>): Record<string, unknown> {
  return { name, status, reason: null, steps: 300, final, best, wall_time: 3.5, error: null, started_at: '2026-11-26T14:00:00.000Z', ended_at: '2026-11-26T14:00:03.500Z' };
}

/**
 * A sweep folder as the trainer leaves it: two finished runs (lr 0.01 and 0.1), one diverged,
 * one without summary ending in a torn line (started on another host), one running here, one
 * crashed here, and one whose config.json is not JSON.
 */
function makeSweep(): string {
  const root = tempDir('dlphys-scan-');
  const run = (name: string) => path.join(root, name);
  writeJson(path.join(run('lr0.01'), 'config.json'), config('lr0.01', 0.01));
  writeText(path.join(run('lr0.01'), 'metrics.jsonl'), metricLines(history(1)));
  writeJson(path.join(run('lr0.01'), 'summary.json'), summary('lr0.01', 'completed', { loss: 0.4, acc: 0.8, val_loss: 0.9, val_acc: 0.7 }, { loss: 0.4, acc: 0.8, val_loss: 0.6, val_acc: 0.8 }));

  writeJson(path.join(run('lr0.1'), 'config.json'), config('lr0.1', 0.1));
  writeText(path.join(run('lr0.1'), 'metrics.jsonl'), metricLines(history(1.1)));
  writeJson(path.join(run('lr0.1'), 'summary.json'), summary('lr0.1', 'completed', { loss: 0.3, acc: 0.85, val_loss: 0.8, val_acc: 0.75 }, { loss: 0.3, acc: 0.85, val_loss: 0.55, val_acc: 0.9 }));

  writeJson(path.join(run('lr10'), 'config.json'), config('lr10', 10));
  writeJson(path.join(run('lr10'), 'summary.json'), { ...summary('lr10', 'diverged', { loss: 'NaN' }, { loss: 2.5 }), reason: 'loss is NaN at step 12', steps: 12 });

  writeJson(path.join(run('torn'), 'config.json'), config('torn', 0.3));
  writeText(path.join(run('torn'), 'metrics.jsonl'), metricLines(history(0.5).slice(0, 4)) + '{"step":300,"epoch":2,"ti');

  writeJson(path.join(run('live'), 'config.json'), config('live', 0.03, { host, pid: process.pid }));
  writeText(path.join(run('live'), 'metrics.jsonl'), metricLines(history(1).slice(0, 2)));

  writeJson(path.join(run('dead'), 'config.json'), config('dead', 0.003, { host, pid: deadPid }));
  writeText(path.join(run('dead'), 'metrics.jsonl'), metricLines(history(1).slice(0, 2)));

  writeText(path.join(run('broken'), 'config.json'), '{"name": "broken", "seed": ');
  return root;
}

const sweep = makeSweep();
const scan = (options: Parameters<typeof scanRuns>[1] = {}) => scanRuns(sweep, options);

function row(table: ScanTable, run: string): Record<string, unknown> {
  const found = table.rows.find((r) => r.run === run);
  assert.ok(found, `row ${run} in ${table.rows.map((r) => r.run).join(', ')}`);
  return found;
}

/** RFC 4180 parser, just enough to read back what formatCsv writes. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') record.push(field), (field = '');
    else if (ch === '\r' && text[i + 1] === '\n') {
      record.push(field), records.push(record), (record = []), (field = ''), i++;
    } else field += ch;
  }
  assert.equal(field + record.join(''), '', 'CSV ends with CRLF');
  return records;
}

describe('scanRuns', () => {
  test('shows only the config values that differ across runs by default', () => {
    const table = scan();
    assert.deepEqual(table.columns.slice(0, 4), ['run', 'status', 'steps', 'optimizer.kwargs.lr']);
    assert.ok(!table.columns.includes('model.kwargs.widths'));
    assert.ok(!table.columns.includes('provenance.host'), 'provenance is not config');
  });

  test('shows every config value with all, arrays as JSON', () => {
    const table = scan({ all: true });
    for (const key of ['name', 'seed', 'model.kwargs.activation', 'optimizer.kwargs.momentum', 'train.steps']) assert.ok(table.columns.includes(key), key);
    assert.equal(row(table, 'lr0.1')['model.kwargs.widths'], '[32,128,128,4]');
    assert.equal(row(table, 'lr0.1')['callbacks'], '[]');
  });

  test('puts final and best of every metric after the config, but not lr or steps_per_sec', () => {
    const metricColumns = scan().columns.filter((c) => c.startsWith('final.') || c.startsWith('best.'));
    assert.deepEqual(metricColumns, ['final.loss', 'best.loss', 'final.acc', 'best.acc', 'final.val_loss', 'best.val_loss', 'final.val_acc', 'best.val_acc']);
  });

  test('takes final and best from summary.json when the run has one', () => {
    const r = row(scan(), 'lr0.1');
    assert.equal(r.status, 'completed');
    assert.equal(r.steps, 300);
    assert.equal(r['final.val_acc'], 0.75);
    assert.equal(r['best.val_acc'], 0.9);
    assert.equal(r['best.val_loss'], 0.55);
  });

  test('keeps a NaN final loss of a diverged run', () => {
    const r = row(scan(), 'lr10');
    assert.equal(r.status, 'diverged');
    assert.ok(Number.isNaN(r['final.loss']));
    assert.equal(r['best.loss'], 2.5);
  });

  test('computes final and best from metrics.jsonl when there is no summary: max for acc, min otherwise', () => {
    const r = row(scan(), 'dead');
    assert.equal(r.steps, 100);
    const full = row(scan(), 'torn');
    assert.equal(full['final.val_acc'], 0.4);
    assert.equal(full['best.val_acc'], 0.4);
    assert.equal(full['best.val_loss'], 0.3);
    assert.equal(full['final.val_loss'], 0.3);
    assert.equal(full['best.acc'], 0.6);
    assert.equal(full['best.loss'], 0.35);
  });

  test('tolerates a torn last line in metrics.jsonl without a warning', () => {
    const table = scan();
    assert.equal(row(table, 'torn').steps, 200);
    assert.deepEqual(table.warnings, []);
  });

  test('warns about a malformed line in the middle of metrics.jsonl and keeps the rest', () => {
    const root = tempDir('dlphys-scan-');
    writeJson(path.join(root, 'r', 'config.json'), config('r', 0.1));
    const lines = metricLines(history(1)).split('\n');
    lines.splice(2, 0, '{oops');
    writeText(path.join(root, 'r', 'metrics.jsonl'), lines.join('\n'));
    const table = scanRuns(root);
    assert.equal(table.warnings.length, 1);
    assert.match(table.warnings[0]!, /metrics\.jsonl:3: not valid JSON/);
    assert.equal(table.rows[0]!['best.val_acc'], 0.8);
  });

  test('marks a run without summary as running when its process is alive on this host', () => {
    assert.equal(row(scan(), 'live').status, 'running');
  });

  test('marks a run without summary as crashed when its process on this host is gone', () => {
    assert.equal(row(scan(), 'dead').status, 'crashed');
  });

  test('marks a run without summary as incomplete when it was started on another host', () => {
    assert.equal(row(scan(), 'torn').status, 'incomplete');
  });

  test('reports an unreadable folder as an error and keeps the other runs', () => {
    const table = scan();
    assert.equal(table.errors.length, 1);
    assert.equal(table.errors[0]!.path, 'broken');
    assert.match(table.errors[0]!.message, /config\.json is not valid JSON/);
    assert.equal(table.rows.length, 6);
    assert.ok(!table.rows.some((r) => r.run === 'broken'));
  });

  test('sorts by the best value of --metric, best first, missing values last', () => {
    const table = scan({ metric: 'val_acc' });
    assert.deepEqual(table.columns, ['run', 'status', 'steps', 'optimizer.kwargs.lr', 'final.val_acc', 'best.val_acc']);
    assert.deepEqual(
      table.rows.map((r) => r.run),
      ['lr0.1', 'lr0.01', 'dead', 'live', 'torn', 'lr10'],
    );
  });

  test('sorts ascending for a loss, and a goal other than the default changes which value is best', () => {
    assert.deepEqual(
      scan({ metric: 'val_loss' }).rows.map((r) => r.run),
      ['torn', 'lr0.1', 'lr0.01', 'dead', 'live', 'lr10'],
    );
    const table = scan({ metric: 'val_loss', goal: 'max' });
    assert.equal(row(table, 'lr0.01')['best.val_loss'], 1.2);
    assert.equal(table.rows[0]!.run, 'lr0.1');
  });

  test('warns when no run has the metric asked for', () => {
    const table = scan({ metric: 'val_acc_typo' });
    assert.match(table.warnings.join('\n'), /no run has metric "val_acc_typo" \(present: loss, acc, val_loss, val_acc\)/);
  });

  test('finds run folders in nested sweep folders, named by their path, without entering run or dot folders', () => {
    const root = tempDir('dlphys-scan-');
    writeJson(path.join(root, 'depth', 'd2', 'w64', 'config.json'), config('w64', 0.1));
    writeJson(path.join(root, 'depth', 'd4', 'config.json'), config('d4', 0.2));
    writeJson(path.join(root, 'depth', 'd4', 'inner', 'config.json'), config('inner', 0.3));
    writeJson(path.join(root, '.upload-tmp', 'r', 'config.json'), config('r', 0.4));
    writeJson(path.join(root, 'node_modules', 'r', 'config.json'), config('r', 0.5));
    assert.deepEqual(
      scanRuns(root).rows.map((r) => r.run),
      ['depth/d2/w64', 'depth/d4'],
    );
  });

  test('groups runs by a config key with count, mean and std of each metric column', () => {
    const root = tempDir('dlphys-scan-');
    const finals = [
      [0.1, 0, 0.7],
      [0.1, 1, 0.9],
      [0.5, 0, 0.6],
    ] as const;
    for (const [lr, seed, acc] of finals) {
      const name = `lr${lr}-s${seed}`;
      writeJson(path.join(root, name, 'config.json'), { ...config(name, lr), seed });
      writeJson(path.join(root, name, 'summary.json'), summary(name, 'completed', { val_acc: acc }, { val_acc: acc }));
    }
    const table = scanRuns(root, { groupBy: ['optimizer.kwargs.lr'], metric: 'val_acc' });
    const stats = (c: string) => ['mean', 'std', 'count', 'min', 'max', 'ci95_low', 'ci95_high'].map((s) => `${c}.${s}`);
    assert.deepEqual(table.columns, ['optimizer.kwargs.lr', 'count', ...stats('final.val_acc'), ...stats('best.val_acc')]);
    assert.deepEqual(table.textColumns, ['optimizer.kwargs.lr', 'count', 'final.val_acc.mean', 'final.val_acc.std', 'final.val_acc.count', 'best.val_acc.mean', 'best.val_acc.std', 'best.val_acc.count']);
    assert.equal(table.rows.length, 2);
    const [top, bottom] = table.rows;
    assert.equal(top!['optimizer.kwargs.lr'], 0.1);
    assert.equal(top!.count, 2);
    assert.ok(Math.abs((top!['best.val_acc.mean'] as number) - 0.8) < 1e-12);
    assert.ok(Math.abs((top!['best.val_acc.std'] as number) - Math.SQRT2 * 0.1) < 1e-12);
    assert.equal(bottom!.count, 1);
    assert.equal(bottom!['best.val_acc.std'], null);
  });

  test('refuses a group-by key that is not in any config', () => {
    assert.throws(() => scan({ groupBy: ['optimizer.kwargs.lrr'] }), (err: unknown) => err instanceof UsageError && /unknown group-by key "optimizer\.kwargs\.lrr"/.test(err.message));
  });

  test('raises a usage error for a runs dir that does not exist', () => {
    const missing = path.join(sweep, 'nope');
    assert.throws(() => scanRuns(missing), (err: unknown) => err instanceof UsageError && err.message === `runs dir not found: ${missing}`);
  });

  test('returns an empty table for a dir without run folders', () => {
    const table = scanRuns(tempDir('dlphys-scan-'));
    assert.deepEqual(table.rows, []);
    assert.deepEqual(table.errors, []);
  });
});

describe('scan formats', () => {
  test('the text table shows numbers with 4 significant digits, right-aligned', () => {
    assert.deepEqual([0.123456, 12.34567, 500, 0.05, 1e-4, 1.23456e-5, 2e7 + 1, NaN].map(formatNumber), ['0.1235', '12.35', '500', '0.05', '1e-4', '1.235e-5', '2e+7', 'NaN']);
    const text = formatText({ columns: ['run', 'x'], rows: [{ run: 'a', x: 0.5 }, { run: 'bbbbbb', x: 12.3456 }, { run: 'c', x: null }] });
    assert.equal(text, 'run         x\n------  -----\na         0.5\nbbbbbb  12.35\nc           -\n');
  });

  test('the text table cuts long config values but not the run name', () => {
    const long = 'x'.repeat(50);
    const text = formatText({ columns: ['run', 'v'], rows: [{ run: long, v: long }] }, { maxWidth: 10 });
    assert.ok(text.includes(long));
    assert.ok(text.includes('xxxxxxxxx…'));
  });

  test('CSV quotes commas, quotes and line breaks and keeps full precision', () => {
    const csv = formatCsv({ columns: ['run', 'v', 'x'], rows: [{ run: 'a,b', v: 'say "hi"\nthere', x: 0.123456789 }] });
    assert.equal(csv, 'run,v,x\r\n"a,b","say ""hi""\nthere",0.123456789\r\n');
  });
});

describe('dlphys scan', () => {
  test('prints a table with every readable run, and the unreadable folder as one line on stderr', () => {
    const r = runCli(['scan', sweep]);
    assert.equal(r.status, 0, r.stderr);
    for (const run of ['lr0.01', 'lr0.1', 'lr10', 'torn', 'live', 'dead']) assert.match(r.stdout, new RegExp(`^${run.replace('.', '\\.')} `, 'm'));
    assert.match(r.stdout, /^run +status +steps +optimizer\.kwargs\.lr +final\.loss/);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^dlphys: skipped broken: config\.json is not valid JSON: /);
  });

  test('writes CSV that parses back to one record per run plus the header', () => {
    const r = runCli(['scan', sweep, '--all', '--format', 'csv']);
    assert.equal(r.status, 0, r.stderr);
    const records = parseCsv(r.stdout);
    assert.equal(records.length, 7);
    const header = records[0]!;
    assert.ok(records.every((rec) => rec.length === header.length));
    const lr01 = records.find((rec) => rec[0] === 'lr0.1')!;
    assert.equal(lr01[header.indexOf('model.kwargs.widths')], '[32,128,128,4]');
  });

  test('writes JSON rows sorted by --metric with full precision', () => {
    const r = runCli(['scan', sweep, '--metric', 'val_acc', '--format', 'json']);
    assert.equal(r.status, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as Record<string, unknown>[];
    assert.equal(rows.length, 6);
    assert.deepEqual(rows[0], { run: 'lr0.1', status: 'completed', steps: 300, 'optimizer.kwargs.lr': 0.1, 'final.val_acc': 0.75, 'best.val_acc': 0.9 });
  });

  test('a runs dir that does not exist is one line on stderr and exit code 2', () => {
    const r = runCli(['scan', path.join(sweep, 'nope')]);
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
    assert.deepEqual(r.stderr.trim().split('\n'), [`dlphys: runs dir not found: ${path.join(sweep, 'nope')}`]);
  });

  test('an unknown --goal is a usage error', () => {
    const r = runCli(['scan', sweep, '--metric', 'val_acc', '--goal', 'sideways']);
    assert.notEqual(r.status, 0);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^dlphys: --goal must be one of min, max, minimize, maximize \(got "sideways"\)\n$/);
  });

  test("--goal takes the sweep file's minimize and maximize as well as min and max", () => {
    for (const [long, short] of [['maximize', 'max'], ['minimize', 'min']]) {
      const a = runCli(['scan', sweep, '--metric', 'val_acc', '--goal', long!, '--format', 'json']);
      const b = runCli(['scan', sweep, '--metric', 'val_acc', '--goal', short!, '--format', 'json']);
      assert.equal(a.status, 0, a.stderr);
      assert.equal(a.stdout, b.stdout, long);
    }
  });

  test('--output writes the file, in the format its extension names', () => {
    const out = path.join(tempDir('dlphys-scan-out-'), 'runs.json');
    const r = runCli(['scan', sweep, '--output', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal((JSON.parse(fs.readFileSync(out, 'utf8')) as unknown[]).length, 6);
  });

  test('says so when there are no run folders', () => {
    const r = runCli(['scan', tempDir('dlphys-scan-empty-')]);
    assert.equal(r.status, 0);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^dlphys: no run folders under /);
  });
});
