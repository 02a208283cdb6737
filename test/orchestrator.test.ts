import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { landedLines, query, runStates, startAgent, startCoordinator, tinySweep, waitFor, workspace } from './cluster.js';
import { runCli, repoRoot } from './helpers.js';
import { spawnSync } from 'node:child_process';
import net from 'node:net';

const COORD = path.join(repoRoot, 'bin', 'dlphys-coord.js');

function coordCli(args: string[]) {
  return spawnSync(process.execPath, [COORD, ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
}

test('two agents run the 12-run example grid: every folder lands whole and the database matches it', async () => {
  const ws = workspace({});
  const coord = await startCoordinator([
    'sweep', path.join(repoRoot, 'examples', 'grid.json'), '--port', '0', '--db', ws.db, '--runs-dir', ws.runsDir, '--exit-when-done', '--lease-ttl', '5',
  ]);
  const agents = [startAgent(coord.address, ['--exit-when-idle']), startAgent(coord.address, ['--exit-when-idle'])];
  const logs = () => [coord.log(), ...agents.map((a) => a.log())].join('\n---\n');
  assert.equal(await coord.exited, 0, logs());
  for (const a of agents) assert.equal(await a.exited, 0, logs());

  const states = runStates(ws.db);
  assert.equal(Object.keys(states).length, 12);
  const notCompleted = query(ws.db, "SELECT id, state, error FROM runs WHERE state != 'completed'");
  assert.deepEqual(new Set(Object.values(states)), new Set(['completed']), `${JSON.stringify(notCompleted)}\n${logs()}`);
  for (const runId of Object.keys(states)) {
    const dir = path.join(ws.runsDir, runId);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['config.json', 'metrics.jsonl', 'summary.json', 'train.log'], runId);
    assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')).status, 'completed');
    const stored = query<{ line: string }>(ws.db, 'SELECT line FROM metrics WHERE run_id = ? ORDER BY seq', runId).map((r) => r.line);
    assert.deepEqual(stored, landedLines(ws.runsDir, runId), `metrics of ${runId}`);
  }
  // Both agents did work, and every run was recorded by exactly one attempt.
  const perAgent = query<{ agent_id: string; n: number }>(ws.db, "SELECT agent_id, COUNT(*) n FROM attempts WHERE outcome = 'completed' GROUP BY agent_id");
  assert.equal(perAgent.length, 2, JSON.stringify(perAgent));
  assert.equal(query<{ n: number }>(ws.db, 'SELECT COUNT(*) n FROM attempts')[0]!.n, 12);
  // The scan of the landed folders is the table a user looks at.
  const scan = runCli(['scan', ws.runsDir, '--format', 'csv']);
  assert.equal(scan.status, 0, scan.stderr);
  assert.equal(scan.stdout.trim().split('\n').length, 13);
});

test('a sweep submitted to a running coordinator is recorded by it, and the same file again adds nothing', async () => {
  const ws = workspace(tinySweep({ name: 'first', runs: 2 }));
  const coord = await startCoordinator(['serve', '--port', '0', '--db', ws.db, '--runs-dir', ws.runsDir]);
  try {
    const first = coordCli(['submit', ws.sweepFile, '--coord', coord.address]);
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stderr, /submitted sweep first \(2 runs\) to the coordinator at 127\.0\.0\.1:\d+/);
    const again = coordCli(['submit', ws.sweepFile, '--coord', coord.address]);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, /already recorded.*nothing added/);
    assert.deepEqual(runStates(ws.db), { 'first/r000': 'queued', 'first/r001': 'queued' });

    const status = coordCli(['status', '--coord', coord.address, '--json']);
    assert.equal(status.status, 0, status.stderr);
    const reply = JSON.parse(status.stdout);
    assert.equal(reply.sweeps[0].name, 'first');
    assert.equal(reply.sweeps[0].states.queued, 2);

    const agent = startAgent(coord.address, ['--exit-when-idle']);
    assert.equal(await agent.exited, 0, agent.log());
    assert.deepEqual(runStates(ws.db), { 'first/r000': 'completed', 'first/r001': 'completed' });
  } finally {
    coord.kill();
    await coord.exited;
  }
});

test('--dry-run --json prints every run with its parameters and full config, and records nothing', () => {
  const ws = workspace(tinySweep({ runs: 3 }));
  const r = coordCli(['sweep', ws.sweepFile, '--dry-run', '--json', '--db', ws.db]);
  assert.equal(r.status, 0, r.stderr);
  const runs = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(
    runs.map((x) => [x.name, x.params.seed, x.config.seed, x.config.optimizer.kwargs.momentum]),
    [
      ['r000', 0, 0, 0],
      ['r001', 1, 1, 0],
      ['r002', 2, 2, 0],
    ],
  );
  assert.equal(fs.existsSync(ws.db), false, 'no database created');
});

test('malformed sweep files are refused with one line, exit code 2, and nothing recorded', () => {
  const base = tinySweep();
  const cases: [string, unknown, RegExp][] = [
    ['bad JSON', '{"method": "grid",', /not valid JSON/],
    ['an unknown method', { ...base, method: 'hyperband' }, /method/],
    ['bayes without a metric', { ...base, method: 'bayes', metric: undefined }, /method bayes needs a metric to optimise/],
    ['a grid over a continuous range', { ...base, parameters: { 'optimizer.kwargs.lr': { min: 0.01, max: 0.1 } } }, /grid.*continuous|continuous.*grid/],
    ['a parameter path the base does not have', { ...base, parameters: { 'optimizer.kwargs.lrr': { values: [0.1] } } }, /optimizer\.kwargs\.lrr/],
    ['an empty values list', { ...base, parameters: { seed: { values: [] } } }, /values/],
  ];
  for (const [what, content, pattern] of cases) {
    const ws = workspace({});
    fs.writeFileSync(ws.sweepFile, typeof content === 'string' ? content : JSON.stringify(content));
    const r = coordCli(['sweep', ws.sweepFile, '--port', '0', '--db', ws.db, '--runs-dir', ws.runsDir]);
    assert.equal(r.status, 2, `${what}: exit code (stderr: ${r.stderr})`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `${what}: one line, got\n${r.stderr}`);
    assert.match(lines[0]!, /^dlphys-coord: /, what);
    assert.match(lines[0]!, pattern, what);
    assert.equal(fs.existsSync(ws.db), false, `${what}: no database created`);
    assert.equal(fs.existsSync(ws.runsDir), false, `${what}: no runs dir created`);
  }
});

test('a listener on a non-loopback address refuses to start without a token', () => {
  const ws = workspace(tinySweep());
  const r = coordCli(['serve', '--host', '0.0.0.0', '--port', '0', '--db', ws.db]);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /^dlphys-coord: listening on 0\.0\.0\.0 exposes the coordinator to other hosts; pass --token/);
  assert.equal(fs.existsSync(ws.db), false);
});

test('status against an address where no coordinator listens says so in one line', () => {
  const r = coordCli(['status', '--coord', '127.0.0.1:1']);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr.trim(), /^dlphys-coord: no coordinator answers at 127\.0\.0\.1:1 .*dlphys-coord serve/);
});

test('every coordinator and agent command prints its usage with --help', () => {
  for (const args of [['--help'], ['sweep', '--help'], ['submit', '--help'], ['serve', '--help'], ['status', '--help'], ['cancel', '--help'], ['retry', '--help']]) {
    const r = coordCli(args);
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stdout, /Usage: dlphys-coord/);
  }
  const agent = spawnSync(process.execPath, [path.join(repoRoot, 'bin', 'dlphys-agent.js'), '--help'], { encoding: 'utf8' });
  assert.equal(agent.status, 0);
  assert.match(agent.stdout, /Usage: dlphys-agent/);
});

test('with --runs-per-process a runner process trains several runs in turn, then is replaced', async () => {
  const ws = workspace(tinySweep({ name: 'reuse', runs: 4 }));
  const coord = await startCoordinator(['sweep', ws.sweepFile, '--port', '0', '--db', ws.db, '--runs-dir', ws.runsDir, '--exit-when-done']);
  const agent = startAgent(coord.address, ['--slots', '1', '--runs-per-process', '3', '--exit-when-idle']);
  assert.equal(await agent.exited, 0, agent.log());
  assert.equal(await coord.exited, 0, coord.log());
  assert.deepEqual(new Set(Object.values(runStates(ws.db))), new Set(['completed']));
  const pids = ['r000', 'r001', 'r002', 'r003'].map(
    (run) => JSON.parse(fs.readFileSync(path.join(ws.runsDir, 'reuse', run, 'config.json'), 'utf8')).provenance.pid as number,
  );
  assert.equal(new Set(pids.slice(0, 3)).size, 1, `the first three runs share a process: ${pids}`);
  assert.notEqual(pids[3], pids[0], 'the fourth run gets a fresh process');
});

test('a cancel right after the lease stops the run', async () => {
  const ws = workspace(tinySweep({ name: 'early', runs: 1, steps: 20_000, logEvery: 50 }));
  const coord = await startCoordinator(['sweep', ws.sweepFile, '--port', '0', '--db', ws.db, '--runs-dir', ws.runsDir, '--exit-when-done', '--lease-ttl', '5']);
  const agent = startAgent(coord.address, ['--slots', '1', '--exit-when-idle']);
  const logs = () => `${coord.log()}\n---\n${agent.log()}`;
  // Cancel the moment the lease is recorded: the runner may not have loaded tfjs yet.
  await waitFor('the lease', () => ['leased', 'running'].includes(runStates(ws.db)['early/r000'] ?? ''), 60_000, logs);
  const cancel = coordCli(['cancel', 'early/r000', '--coord', coord.address]);
  assert.equal(cancel.status, 0, cancel.stderr);
  assert.equal(await agent.exited, 0, logs());
  assert.equal(await coord.exited, 0, logs());
  assert.equal(runStates(ws.db)['early/r000'], 'cancelled');
  const summary = JSON.parse(fs.readFileSync(path.join(ws.runsDir, 'early', 'r000', 'summary.json'), 'utf8'));
  assert.equal(summary.status, 'stopped');
  assert.ok(summary.steps < 20_000, `stopped early, at step ${summary.steps}`);
});

test('periodic uploads of a long run never replace its final folder', async () => {
  const ws = workspace(tinySweep({ name: 'snap', runs: 2, steps: 1500, logEvery: 5 }));
  const coord = await startCoordinator(['sweep', ws.sweepFile, '--port', '0', '--db', ws.db, '--runs-dir', ws.runsDir, '--exit-when-done']);
  const agent = startAgent(coord.address, ['--slots', '2', '--exit-when-idle', '--upload-every', '0.05']);
  assert.equal(await agent.exited, 0, agent.log());
  assert.equal(await coord.exited, 0, coord.log());
  for (const runId of ['snap/r000', 'snap/r001']) {
    assert.equal(runStates(ws.db)[runId], 'completed');
    const summary = JSON.parse(fs.readFileSync(path.join(ws.runsDir, runId, 'summary.json'), 'utf8'));
    assert.equal(summary.steps, 1500);
    const stored = query<{ line: string }>(ws.db, 'SELECT line FROM metrics WHERE run_id = ? ORDER BY seq', runId).map((r) => r.line);
    assert.deepEqual(landedLines(ws.runsDir, runId), stored, runId);
  }
});

test('a coordinator that cannot listen says so in one line and leaves no database', async () => {
  const ws = workspace(tinySweep());
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const port = (taken.address() as net.AddressInfo).port;
  try {
    const r = coordCli(['sweep', ws.sweepFile, '--port', String(port), '--db', ws.db, '--runs-dir', ws.runsDir]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr.trim(), new RegExp(`^dlphys-coord: cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use; .*choose another --port`));
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.equal(fs.existsSync(ws.db), false);
    assert.equal(fs.existsSync(ws.runsDir), false);
  } finally {
    taken.close();
  }
  const ttl = coordCli(['serve', '--lease-ttl', '0.0001', '--port', '0', '--db', ws.db]);
  assert.equal(ttl.status, 2);
  assert.match(ttl.stderr, /--lease-ttl must be a number >= 0\.1/);
});
