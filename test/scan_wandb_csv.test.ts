import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { formatWandbCsv, wandbState } from '../lib/scan/wandb_csv.js';
import { runCli, tempDir, writeJson, writeText } from './helpers.js';

const host = os.hostname();
/** A pid that was alive a moment ago and is not any more. */
const deadPid = spawnSync(process.execPath, ['-e', '']).pid!;
const LEADING = ['Name', 'State', 'Notes', 'User', 'Tags', 'Created', 'Runtime', 'Sweep'];

function jsonl(rows: Record<string, unknown>[]): string {
  return rows.map((r) => JSON.stringify(r) + '\n').join('');
}

/** A program run folder as the agent leaves it: the sweep's params plus provenance; summary.json once it has ended. */
function programRun(root: string, name: string, params: Record<string, unknown>, status: string | null, final: Record<string, unknown> = {}): void {
  const dir = path.join(root, 'sweep-a', name);
  const startedAt = '2026-11-29T18:50:52.618Z';
  writeJson(path.join(dir, 'config.json'), {
    ...params,
    provenance: { kind: 'program', program: 'train.py', sweep: 'abc123', run_id: `abc123/${name}`, host: 'elsewhere', started_at: startedAt },
    batch_size: 64,
    steps: 300,
  });
  writeText(path.join(dir, 'metrics.jsonl'), jsonl([{ step: 0, time: 0.01, loss: 0.69 }, { step: 299, time: 41.5, loss: 0.31, val_acc: 0.88 }]));
  if (status !== null) {
    writeJson(path.join(dir, 'summary.json'), {
      name, status, reason: null, wall_time: 41.62, error: null, started_at: startedAt, ended_at: '2026-11-29T18:51:34.238Z',
      steps: 300, final: { loss: 0.31, val_acc: 0.88, ...final }, best: { loss: typeof final.loss === 'number' ? final.loss : 0.3 }, callback_time: {},
    });
  }
}

/** A native dlphys run in a sweep folder: nested config, split rows, provenance without `sweep`. */
function nativeRun(root: string, name: string, lr: number, summary: Record<string, unknown> | null, prov: Record<string, unknown> = {}): void {
  const dir = path.join(root, 'native-sweep', name);
  writeJson(path.join(dir, 'config.json'), {
    name,
    seed: 0,
    model: { name: 'mlp', kwargs: { widths: [8, 16, 3], activation: 'tanh', bias: true } },
    optimizer: { name: 'sgd', kwargs: { lr, momentum: 0.9 } },
    train: { steps: 200, batch_size: 32 },
    provenance: { version: '0.1.0', host: 'elsewhere', pid: 1, started_at: '2026-11-26T14:00:00.250Z', ...prov },
  });
  writeText(
    path.join(dir, 'metrics.jsonl'),
    jsonl([
      { step: 100, epoch: 0, time: 1, split: 'train', loss: 0.9, acc: 0.5, lr },
      { step: 200, epoch: 1, time: 2, split: 'train', loss: 0.5, acc: 0.7, lr },
      { step: 200, epoch: 1, time: 2.1, split: 'val', val_loss: 0.6, val_acc: 0.75 },
    ]),
  );
  if (summary !== null) writeJson(path.join(dir, 'summary.json'), { name, reason: null, steps: 200, wall_time: 2.5, error: null, started_at: '2026-11-26T14:00:00.250Z', best: {}, ...summary });
}

/** RFC 4180, strictly: every record ends with CRLF; quoted fields may hold commas, quotes and line breaks. */
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

/** Records as objects by header name, for columns whose names are unique. */
function byName(records: string[][]): Record<string, string>[] {
  const [header, ...rows] = records;
  return rows.map((row) => Object.fromEntries(header!.map((h, i) => [h, row[i]!])));
}

// Each CLI run costs a second; tests asking for the same output share it.
const outputs = new Map<string, string>();
function wandbCsv(args: string[]): string {
  const key = JSON.stringify(args);
  const known = outputs.get(key);
  if (known !== undefined) return known;
  const r = runCli(['scan', ...args, '--format', 'wandb-csv']);
  assert.equal(r.status, 0, r.stderr);
  outputs.set(key, r.stdout);
  return r.stdout;
}

/** A program sweep with a run in each state summary.json can name, one still going, and an awkward string param. */
function makeProgramSweep(): string {
  const root = tempDir('dlphys-wandb-csv-');
  programRun(root, 'r000', { lr: 0.05, hidden: 16, optimizer: { beta: 0.9 }, note: 'a, "b"' }, 'completed');
  programRun(root, 'r001', { lr: 0.1, hidden: 16, optimizer: { beta: 0.99 }, note: 'plain' }, 'failed', { loss: 0.2 });
  programRun(root, 'r002', { lr: 10, hidden: 16, optimizer: { beta: 0.9 }, note: 'plain' }, 'diverged', { loss: 'NaN' });
  programRun(root, 'r003', { lr: 0.01, hidden: 16, optimizer: { beta: 0.9 }, note: 'plain' }, 'stopped');
  programRun(root, 'r004', { lr: 0.02, hidden: 16, optimizer: { beta: 0.9 }, note: 'plain' }, null);
  return root;
}

const program = makeProgramSweep();

describe('dlphys scan --format wandb-csv', () => {
  test('the header is W&B\'s leading columns, the config values that differ, the metrics, then _runtime and _step', () => {
    const [header] = parseCsv(wandbCsv([program]));
    assert.deepEqual(header, [...LEADING, 'lr', 'note', 'optimizer.beta', 'loss', 'val_acc', '_runtime', '_step']);
  });

  test('every field is quoted, as W&B writes its export', () => {
    const text = wandbCsv([program]);
    assert.ok(text.startsWith('"Name","State","Notes","User","Tags","Created","Runtime","Sweep","lr",'), text.slice(0, 120));
    assert.match(text, /\r\n"r000","finished","-","","","2026-11-29T18:50:52\.000Z","42","abc123","0\.05","a, ""b""","0\.9","0\.31","0\.88","41\.62","299"\r\n/);
  });

  test('states are W&B\'s words, and a run without summary.json is running', () => {
    const rows = byName(parseCsv(wandbCsv([program])));
    assert.deepEqual(
      rows.map((r) => [r.Name, r.State]),
      [['r000', 'finished'], ['r001', 'failed'], ['r002', 'crashed'], ['r003', 'killed'], ['r004', 'running']],
    );
    const running = rows.find((r) => r.Name === 'r004')!;
    // Its numbers so far, as W&B's live summary: the last logged values.
    assert.equal(running.loss, '0.31');
    assert.equal(running.Runtime, '42');
    assert.equal(running._step, '299');
    assert.deepEqual(['early_stopped', 'cancelled', 'incomplete', 'crashed'].map(wandbState), ['killed', 'killed', 'running', 'crashed']);
  });

  test('the summary columns are the last values, with NaN as NaN, _runtime in seconds and _step the last step logged', () => {
    const rows = byName(parseCsv(wandbCsv([program])));
    const diverged = rows.find((r) => r.Name === 'r002')!;
    assert.equal(diverged.loss, 'NaN');
    assert.equal(diverged.val_acc, '0.88');
    assert.equal(diverged._runtime, '41.62');
    assert.equal(diverged._step, '299');
  });

  test('--all adds every config leaf (never provenance), named as in the sweep file', () => {
    const [header] = parseCsv(wandbCsv([program, '--all']));
    assert.deepEqual(header, [...LEADING, 'batch_size', 'hidden', 'lr', 'note', 'optimizer.beta', 'steps', 'loss', 'val_acc', '_runtime', '_step']);
    assert.ok(!header!.some((h) => h.startsWith('provenance')));
  });

  test('a native sweep: dotted config paths, the folder as its sweep, a crashed process crashed', () => {
    const root = tempDir('dlphys-wandb-csv-native-');
    nativeRun(root, 'lr0.1', 0.1, { status: 'completed', final: { loss: 0.5, acc: 0.7, lr: 0.1, val_loss: 0.6, val_acc: 0.75 } });
    nativeRun(root, 'lr0.3', 0.3, null, { host, pid: deadPid });
    const records = parseCsv(wandbCsv([root]));
    assert.deepEqual(records[0], [...LEADING, 'optimizer.kwargs.lr', 'acc', 'loss', 'lr', 'val_acc', 'val_loss', '_runtime', '_step']);
    assert.deepEqual(records.slice(1), [
      ['lr0.1', 'finished', '-', '', '', '2026-11-26T14:00:00.000Z', '3', 'native-sweep', '0.1', '0.7', '0.5', '0.1', '0.75', '0.6', '2.5', '200'],
      ['lr0.3', 'crashed', '-', '', '', '2026-11-26T14:00:00.000Z', '2', 'native-sweep', '0.3', '0.7', '0.5', '0.3', '0.75', '0.6', '2.1', '200'],
    ]);
    // Scanned from inside the sweep folder, the sweep is still that folder's name.
    assert.equal(byName(parseCsv(wandbCsv([path.join(root, 'native-sweep')])))[0]!.Sweep, 'native-sweep');
    assert.equal(byName(parseCsv(wandbCsv([path.join(root, 'native-sweep', 'lr0.1')])))[0]!.Sweep, 'native-sweep');
  });

  test('rows come in scan\'s order: --metric puts the best first', () => {
    const rows = byName(parseCsv(wandbCsv([program, '--metric', 'loss'])));
    assert.deepEqual(rows.map((r) => r.Name), ['r001', 'r000', 'r002', 'r003', 'r004']);
    // Every metric stays: the export is the whole runs table.
    assert.ok('val_acc' in rows[0]!);
  });

  test('python\'s csv module reads it back to the same fields', { skip: spawnSync('python3', ['-c', '']).status !== 0 && 'no python3' }, () => {
    const text = wandbCsv([program, '--all']);
    const py = spawnSync('python3', ['-c', 'import csv, json, sys; print(json.dumps(list(csv.reader(sys.stdin))))'], { input: text, encoding: 'utf8' });
    assert.equal(py.status, 0, py.stderr);
    assert.deepEqual(JSON.parse(py.stdout), parseCsv(text));
    const r000 = byName(JSON.parse(py.stdout) as string[][]).find((r) => r.Name === 'r000')!;
    assert.equal(r000.note, 'a, "b"');
  });

  test('values: booleans as true/false, arrays and objects as JSON, missing as empty, quotes doubled', () => {
    const text = formatWandbCsv({ columns: ['a', 'b', 'c', 'd', 'e'], rows: [[true, false, '[8,16]', null, 'say "hi",\nthere']] });
    assert.equal(text, '"a","b","c","d","e"\r\n"true","false","[8,16]","","say ""hi"",\nthere"\r\n');
    assert.deepEqual(parseCsv(text)[1], ['true', 'false', '[8,16]', '', 'say "hi",\nthere']);
  });

  test('--output FILE.csv without --format stays the plain table; --group-by is refused', () => {
    const out = path.join(tempDir('dlphys-wandb-csv-out-'), 'wandb_export.csv');
    const r = runCli(['scan', program, '--output', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(fs.readFileSync(out, 'utf8'), /^run,status,steps,/);
    const g = runCli(['scan', program, '--format', 'wandb-csv', '--group-by', 'lr']);
    assert.equal(g.status, 2);
    assert.match(g.stderr, /^dlphys: --group-by does not apply to --format wandb-csv/);
  });

  test('no run folders: the header alone', () => {
    const r = runCli(['scan', tempDir('dlphys-wandb-csv-empty-'), '--format', 'wandb-csv']);
    assert.equal(r.status, 0);
    assert.equal(r.stdout, [...LEADING, '_runtime', '_step'].map((c) => `"${c}"`).join(',') + '\r\n');
  });
});
