import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { coordCommand, serveSweep, startAgent, tinySweep, waitFor, withCluster, workspace } from './cluster.js';
import { writeJson } from './helpers.js';
import { agent, fresh, landed, ref, sweep, TTL } from './store_fixtures.js';
import { SweepReports } from '../coordinator/sweep_files.js';

/** The report's run rows (its table's body rows). */
const rowsOf = (html: string) => html.match(/<tr data-i=/g)?.length ?? 0;

test('--report: each sweep that finishes gets report.html beside its runs, and every sweep its sweep.json', async () => {
  await withCluster(async (c) => {
    const ws = workspace(tinySweep({ name: 'first', runs: 2, steps: 10 }));
    const coord = await serveSweep(c, ws, ['--report']);
    c.track('agent', startAgent(coord.address, ['--slots', '1']));
    const spec = JSON.parse(fs.readFileSync(path.join(ws.runsDir, 'first', 'sweep.json'), 'utf8')) as { name: string; metric: { name: string } };
    assert.equal(spec.name, 'first');
    assert.equal(spec.metric.name, 'val_acc');

    const firstReport = path.join(ws.runsDir, 'first', 'report.html');
    await waitFor('the first sweep\'s report', () => /sweep first: report written to .*report\.html \(2 runs, \d+ plots?\)/.test(coord.log()), 90_000, c.logs);
    const html = fs.readFileSync(firstReport, 'utf8');
    // Both runs, in a table with a header row: the report was written after they had landed.
    assert.equal(rowsOf(html), 2, html.slice(0, 2000));

    // A sweep submitted to the running coordinator: its spec lands when it is recorded, its report when it finishes.
    const second = writeJson(path.join(ws.dir, 'second.json'), tinySweep({ name: 'second', runs: 3, steps: 10 }));
    const submitted = await coordCommand(['submit', second, '--coord', coord.address]);
    assert.equal(submitted.status, 0, submitted.stderr);
    assert.ok(fs.existsSync(path.join(ws.runsDir, 'second', 'sweep.json')));
    await waitFor('the second sweep\'s report', () => /sweep second: report written to .*\(3 runs, \d+ plots?\)/.test(coord.log()), 90_000, c.logs);
    assert.equal(rowsOf(fs.readFileSync(path.join(ws.runsDir, 'second', 'report.html'), 'utf8')), 3);
    // The first sweep's report is written once, not again on every later event.
    assert.equal(coord.log().match(/sweep first: report written/g)?.length, 1, coord.log());
  });
});

test('--report with --exit-when-done: the report is on disk when the coordinator has exited', async () => {
  await withCluster(async (c) => {
    const ws = workspace(tinySweep({ name: 'once', runs: 2, steps: 10 }));
    const coord = await serveSweep(c, ws, ['--report', '--exit-when-done']);
    c.track('agent', startAgent(coord.address, ['--slots', '1', '--exit-when-idle']));
    assert.equal(await coord.exited, 0, c.logs());
    assert.ok(fs.existsSync(path.join(ws.runsDir, 'once', 'report.html')), c.logs());
    assert.match(coord.log(), /sweep once: report written/);
  });
});

test('a sweep retried and finished again between two looks still gets a new report', async () => {
  const { store, clock, dir } = fresh();
  agent(store);
  store.addSweep(sweep('again', 1));
  const lines: string[] = [];
  const reports = new SweepReports(store, path.join(dir, 'runs'), (line) => lines.push(line));
  const finish = (status: 'failed' | 'completed') => {
    const [run] = store.lease('a1', 1, TTL);
    store.markStarted(ref(run!), 'a1');
    clock.t += 1000;
    if (status === 'completed') landed(store, run!);
    store.finishRun(ref(run!), 'a1', { status, summaryJson: status === 'completed' ? '{}' : '', error: status === 'failed' ? 'boom' : '' });
  };
  finish('failed');
  await reports.drain();
  assert.equal(lines.filter((l) => /sweep again: writing its report/.test(l)).length, 1, lines.join('\n'));
  // Retried and finished again before the next look: no look ever saw it unfinished.
  store.retry('again');
  finish('completed');
  await reports.drain();
  assert.equal(lines.filter((l) => /sweep again: writing its report/.test(l)).length, 2, lines.join('\n'));
  // Nothing new: no third report.
  await reports.drain();
  assert.equal(lines.filter((l) => /writing its report/.test(l)).length, 2);
  store.close();
});
