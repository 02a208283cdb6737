/**
 * The dashboard rendered with ink-testing-library against a scripted source (no gRPC): what the
 * frames show (sweep progress, agents with CPU and RAM, runs), how they fit 80×24 and use a wide
 * terminal, and every key changing the view.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { cleanup } from 'ink-testing-library';
import { colorEnabled } from '../tui/color.js';
import type { RunDetail } from '../tui/source.js';
import { agent, at, gridEvents, gridStatus, health, KEY, local, renderDash, run, ScriptedSource, snapshot, sweep } from './dash_fixtures.js';

afterEach(cleanup);

/** A run's detail: a loss and val_loss curve over 100 steps, accuracies, and a log. */
function detail(runId: string, source: ScriptedSource): RunDetail {
  const run = gridStatus().runs.find((r) => r.id === runId)!;
  const lines: string[] = [];
  for (let step = 0; step <= 100; step += 5) {
    lines.push(JSON.stringify({ step, epoch: 0, time: step / 10, split: 'train', loss: 2 / (1 + step / 10), acc: step / 120 }));
    if (step % 20 === 0) lines.push(JSON.stringify({ step, epoch: 0, time: step / 10, split: 'val', val_loss: 2.2 / (1 + step / 12), val_acc: step / 110 }));
  }
  const d: RunDetail = {
    run,
    config_json: JSON.stringify({ optimizer: { name: 'sgd', kwargs: { lr: JSON.parse(run.params_json)['optimizer.kwargs.lr'] } }, seed: 0, train: { steps: 100, batch_size: 32 } }),
    metric_lines: lines,
    log_tail: ['step 90/100 loss=0.2', 'step 100/100 val_acc=0.9', `done ${runId}`],
  };
  source.details.set(runId, d);
  return d;
}

/** A dashboard fed the scripted grid sweep, at 150 s. */
async function dashboard(options: { columns?: number; rows?: number } = {}) {
  const source = new ScriptedSource();
  for (const r of gridStatus().runs) detail(r.id, source);
  const dash = renderDash(source, { clock: () => local(150), ...options });
  await dash.waitFor('the source to start', () => source.started === 1);
  source.connection({ state: 'live' });
  source.events(gridEvents());
  source.status(gridStatus());
  await dash.waitFor('the runs', (f) => f.includes('r5'));
  return { source, dash };
}

/** The line of the frame that names `run` in the runs table. */
function rowOf(frame: string, run: string): string {
  return frame.split('\n').find((l) => new RegExp(`^[ ›][ ●]${run} `).test(l)) ?? '';
}

test('the frame shows the sweep with its progress, rate, ETA and best run', async () => {
  const { dash } = await dashboard();
  const f = dash.frame();
  assert.match(f, /^dlphys dash · scripted · live/);
  assert.match(f, /› grid +#+>+\.+ 2\/6 +0\.9\/min +ETA 1m40s/);
  assert.match(f, /completed 2 +running 2 +queued 2 +best val_acc 0\.95 \(r2\)/);
});

test('the frame shows agents with slots, heartbeat age, CPU, RAM and GPUs, the stale and the lost', async () => {
  const { dash } = await dashboard();
  const f = dash.frame();
  assert.match(f, / a +slots 1\/2 +hb 0s +cpu 40% +ram 8\.0G\/32G +runs r2/);
  assert.match(f, /gpu0 A100 90% 10G\/40G/);
  assert.match(f, / b +slots 1\/2 +hb 30s +STALE +GPUs: none/, 'no health yet: the GPUs it registered (none)');
  assert.match(f, / c +slots 0\/2 +hb 2m20s +LOST/);
});

test('the frame shows the runs with varying params, step, metric, curve, time and agent', async () => {
  const { dash } = await dashboard({ columns: 120 });
  const f = dash.frame();
  assert.match(f, /run▲ +state +lr +seed +step +val_acc +best +curve val_acc +time +agent/);
  assert.match(rowOf(f, 'r0'), /r0 +completed +0\.1 +0 +100\/100 +0\.8 +0\.8 +▁▃▅▆█ +1m00s +-/);
  assert.match(rowOf(f, 'r2'), /r2 +running +0\.1 +1 +50\/100 +0\.95 +0\.95 +▄ +20s +a/);
  assert.match(rowOf(f, 'r4'), /r4 +queued +0\.001 +0 +-\/100 +- +- +- +-/);
  assert.doesNotMatch(f, /batch_size/, 'a param that does not vary gets no column');
});

test('80x24: nothing wider than 80 columns, fewer lines than the terminal, panes stacked', async () => {
  const { dash } = await dashboard({ columns: 80, rows: 24 });
  const lines = dash.frame().split('\n');
  assert.ok(lines.length < 24, `${lines.length} lines`);
  for (const l of lines) assert.ok([...l].length <= 80, `too wide: ${l}`);
  const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
  assert.ok(at(/sweeps/) < at(/runs of grid/) && at(/runs of grid/) < at(/agents/), 'stacked');
  assert.ok(rowOf(dash.frame(), 'r5'), 'every run fits');
});

test('200 runs and 8 agents in 80x24: the table scrolls with the cursor, the frame stays inside the terminal', async () => {
  const source = new ScriptedSource();
  const dash = renderDash(source, { columns: 80, rows: 24, clock: () => local(150) });
  await dash.waitFor('the source to start', () => source.started === 1);
  const runs = Array.from({ length: 200 }, (_, i) => run('big', `r${String(i).padStart(3, '0')}`, i < 20 ? 'completed' : 'queued', { lr: i % 7, seed: i }));
  const agents = Array.from({ length: 8 }, (_, i) => agent(`gpu-${i}`, { last_heartbeat: at(150), health: health(10 * i, 4, 16, [[50, 1, 8], [60, 2, 8]]) }));
  source.status(snapshot([sweep('big', { completed: 20, queued: 180 })], agents, runs));
  await dash.waitFor('the table', (f) => f.includes('r000'));
  await dash.press(...Array.from({ length: 30 }, () => 'j'));
  const f = dash.frame();
  assert.match(rowOf(f, 'r030'), /^›/, 'the cursor row is shown');
  assert.equal(rowOf(f, 'r000'), '', 'the top scrolled away');
  const lines = f.split('\n');
  assert.ok(lines.length < 24, `${lines.length} lines`);
  for (const l of lines) assert.ok([...l].length <= 80, `too wide: ${l}`);
  assert.match(f, /agents +8 alive of 8/);
});

test('a wide terminal puts the sweeps and agents beside the runs', async () => {
  const { dash } = await dashboard({ columns: 180, rows: 30 });
  const lines = dash.frame().split('\n');
  assert.ok(lines.some((l) => /sweeps.*runs of grid/.test(l)), 'side by side');
  assert.ok(lines.some((l) => /agents.*r\d/.test(l)));
  for (const l of lines) assert.ok([...l].length <= 180);
});

test('the header says reconnecting, with why, until the source is live again', async () => {
  const { source, dash } = await dashboard();
  source.connection({ state: 'reconnecting', reason: 'No connection established' });
  await dash.waitFor('reconnecting', (f) => /^dlphys dash · scripted · reconnecting… \(No connection established\)/.test(f));
  source.connection({ state: 'live' });
  await dash.waitFor('live again', (f) => /^dlphys dash · scripted · live/.test(f));
});

test('j, k and the arrows move the run cursor', async () => {
  const { dash } = await dashboard();
  assert.match(rowOf(dash.frame(), 'r0'), /^›/);
  await dash.press('j', 'j', KEY.down);
  assert.match(rowOf(dash.frame(), 'r3'), /^›/);
  await dash.press('k', KEY.up);
  assert.match(rowOf(dash.frame(), 'r1'), /^›/);
});

test('keys that arrive together (typed fast, held, sent at once) each act: "jjj" moves three rows, "k\\r" moves and opens', async () => {
  const { dash } = await dashboard({ columns: 100, rows: 60 });
  await dash.press('jjj');
  assert.match(rowOf(dash.frame(), 'r3'), /^›/);
  await dash.press('kk\r');
  await dash.waitFor('the detail of r1', (x) => /▸ run grid\/r1/.test(x));
});

test('tab moves the focus between panes, shift-tab back', async () => {
  const { dash } = await dashboard();
  assert.match(dash.frame(), /▸ runs of grid/);
  await dash.press(KEY.tab);
  assert.match(dash.frame(), /▸ agents/);
  await dash.press(KEY.tab);
  assert.match(dash.frame(), /▸ sweeps/);
  await dash.press(KEY.shiftTab);
  assert.match(dash.frame(), /▸ agents/);
});

test('enter opens the run detail with its config, braille charts and log tail; j scrolls; esc goes back', async () => {
  const { source, dash } = await dashboard({ columns: 100, rows: 60 });
  await dash.press('j', KEY.enter);
  const f = await dash.waitFor('the detail', (x) => x.includes('train.log'));
  assert.match(f, /▸ run grid\/r1/);
  assert.match(f, /completed +attempt 1 +agent - +time 1m00s +step 100\/100/);
  assert.match(f, /\* optimizer\.kwargs\.lr = 0\.01/);
  assert.match(f, / {3}train\.batch_size = 32/, 'a value every run shares is listed without the mark');
  assert.match(f, /loss · val_loss\n\[1\] loss +\[2\] val_loss/, 'train and val on one chart');
  assert.match(f, /acc · val_acc/);
  assert.match(f, /[\u2801-\u28ff]/, 'braille dots');
  assert.match(f, /┤/);
  assert.match(f, /step 100\/100 val_acc=0\.9\ndone grid\/r1/);
  assert.ok(source.detailCalls.includes('grid/r1:200'));

  const short = renderDash(source, { clock: () => local(150), columns: 100, rows: 20 });
  await short.waitFor('start', () => source.started === 2);
  source.status(gridStatus());
  await short.waitFor('runs', (x) => x.includes('r5'));
  await short.press(KEY.enter);
  const top = await short.waitFor('a scrollable detail', (x) => /lines 1-\d+ of \d+/.test(x));
  await short.press('j', 'j', 'j');
  assert.match(short.frame(), /lines 4-/);
  assert.notEqual(short.frame(), top);

  await dash.press(KEY.escape);
  await dash.waitFor('the main view', (x) => x.includes('▸ runs of grid'));
});

test('probe metrics: per-layer ones as a table over depth at the newest step, the others as charts', async () => {
  const { source, dash } = await dashboard({ columns: 100, rows: 80 });
  const d = source.details.get('grid/r0')!;
  const probe = (step: number, scale: number) =>
    JSON.stringify({ step, epoch: 0, time: step / 10, split: 'probe', q_l1: 1 * scale, q_l2: 0.5 * scale, q_l3: 0.25 * scale, chi1_l1: 0.9 * scale, chi1_l2: 1.1 * scale, chi1: 1.0 + step / 1000 });
  // Another probe on its own schedule (step 50 only) must not be blended into step 100's profile,
  // and a training metric that happens to end in _l<k> is not a layer.
  const other = JSON.stringify({ step: 50, epoch: 0, time: 5, split: 'probe', fli_l1: 0.3 });
  const train = JSON.stringify({ step: 100, epoch: 0, time: 10, split: 'train', loss_l2: 0.1 });
  source.details.set('grid/r0', { ...d, metric_lines: [...d.metric_lines, probe(0, 1), other, probe(100, 2), train] });
  await dash.press(KEY.enter);
  const f = await dash.waitFor('the detail', (x) => x.includes('train.log'));
  assert.match(f, /layers \(probe, step 100\)\n +layer +q +chi1\n +1 +2 +1\.8\n +2 +1 +2\.2\n +3 +0\.5\n/);
  assert.doesNotMatch(f, /fli/, 'a probe row of another step stays out of the profile');
  assert.match(f, /^chi1\n\[1\] chi1/m, 'a probe scalar gets its chart');
  assert.doesNotMatch(f, /^q_l1/m, 'no chart per layer');
  assert.match(f, /^loss_l2\n/m, 'a training metric named like a layer is charted');
});

test('without RunDetail the detail says why and draws the curves the events carried', async () => {
  const { source, dash } = await dashboard({ columns: 100, rows: 40 });
  source.details.clear();
  await dash.press(KEY.enter);
  const f = await dash.waitFor('the detail', (x) => /detail unavailable/.test(x));
  assert.match(f, /detail unavailable: no run grid\/r0/);
  assert.match(f, /curves sampled from the live feed/);
  assert.match(f, /val_acc\n\[1\] val_acc/);
  assert.match(f, /[\u2801-\u28ff]/);
});

test('/ filters as it is typed, enter keeps the filter, esc clears it', async () => {
  const { dash } = await dashboard();
  await dash.press('/', 'l', 'r', '=', '0', '.', '1');
  const typing = dash.frame();
  assert.match(typing, /2 of 6 .*\/lr=0\.1▏/);
  assert.ok(rowOf(typing, 'r0') && rowOf(typing, 'r2'));
  assert.equal(rowOf(typing, 'r1'), '');
  await dash.press(KEY.enter);
  assert.match(dash.frame(), /filter lr=0\.1/);
  await dash.press(KEY.escape);
  await dash.waitFor('every run again', (f) => /runs of grid +6 /.test(f));
  await dash.press('/', 'x', 'y', 'z');
  assert.match(dash.frame(), /no run matches the filter/);
});

test('s sorts by the next column and S reverses it', async () => {
  const { dash } = await dashboard();
  const order = () =>
    dash
      .frame()
      .split('\n')
      .map((l) => /^[ ›][ ●](r\d) /.exec(l)?.[1])
      .filter(Boolean)
      .join(' ');
  assert.equal(order(), 'r0 r1 r2 r3 r4 r5');
  await dash.press('s');
  assert.match(dash.frame(), /sort state ▲/);
  assert.equal(order(), 'r2 r3 r4 r5 r0 r1');
  await dash.press('S');
  assert.match(dash.frame(), /sort state ▼/);
  assert.equal(order(), 'r0 r1 r4 r5 r2 r3');
  await dash.press('s', 'S');
  assert.match(dash.frame(), /sort optimizer.kwargs.lr ▲/);
  assert.equal(order(), 'r4 r5 r1 r3 r0 r2');
});

test('space marks runs and c compares their curves of one metric, a legend each; arrows change the metric', async () => {
  const { dash } = await dashboard({ columns: 100, rows: 30 });
  await dash.press(' ', 'j', ' ');
  assert.match(rowOf(dash.frame(), 'r0'), /^ ●/);
  assert.match(rowOf(dash.frame(), 'r1'), /^›●/);
  await dash.press('c');
  const f = await dash.waitFor('the compare view', (x) => /compare val_acc/.test(x) && !/fetching/.test(x));
  assert.match(f, /▸ compare val_acc +2 runs +metric 1\/\d+ \(← →\)/);
  assert.match(f, /\[1\] r0 +\[2\] r1/);
  assert.match(f, /[\u2801-\u28ff]/);
  await dash.press(KEY.right);
  assert.match(dash.frame(), /compare (loss|acc|val_loss)/);
  await dash.press(KEY.escape);
  await dash.waitFor('the main view', (x) => x.includes('▸ runs of grid'));
});

test('? shows every key, and closes', async () => {
  const { dash } = await dashboard({ columns: 100, rows: 30 });
  await dash.press('?');
  const f = dash.frame();
  for (const key of ['j k', 'tab', 'enter', 'esc', '/', 's ', 'S ', 'space', 'c ', '?', 'q ']) assert.ok(f.includes(`  ${key}`), `help lists ${key}`);
  await dash.press('?');
  assert.match(dash.frame(), /▸ runs of grid/);
});

test('enter on a sweep focuses its runs; enter on an agent filters the runs it holds', async () => {
  const { dash } = await dashboard();
  await dash.press(KEY.tab, 'j', KEY.enter);
  assert.match(dash.frame(), /filter agent=b/);
  assert.ok(rowOf(dash.frame(), 'r3'));
  assert.equal(rowOf(dash.frame(), 'r2'), '');
  await dash.press(KEY.escape, KEY.tab, KEY.tab, KEY.enter);
  assert.match(dash.frame(), /▸ runs of grid +6 /);
});

test('q quits: the app ends and stops its source', async () => {
  const { source, dash } = await dashboard();
  await dash.press('q');
  await dash.waitFor('the source to stop', () => source.stopped === 1);
});

test('colour: off under NO_COLOR or without a terminal, FORCE_COLOR wins', () => {
  assert.equal(colorEnabled({ isTTY: true }, {}), true);
  assert.equal(colorEnabled({ isTTY: true }, { NO_COLOR: '1' }), false);
  assert.equal(colorEnabled({ isTTY: true }, { NO_COLOR: '' }), true, 'an empty NO_COLOR does not count');
  assert.equal(colorEnabled({ isTTY: false }, {}), false);
  assert.equal(colorEnabled({}, {}), false);
  assert.equal(colorEnabled({ isTTY: false }, { FORCE_COLOR: '1' }), true);
  assert.equal(colorEnabled({ isTTY: true }, { FORCE_COLOR: '0' }), false);
});

test('agents started by SLURM show their task, and array tasks still queued show under them with the reason', async () => {
  const { source, dash } = await dashboard();
  const snap = gridStatus();
  snap.agents[0]!.slurm_job = '4711_0';
  snap.slurm_jobs = [
    {
      job_id: '4711', sweep: 'grid', array_size: 4, script: '/runs/grid/slurm/agents-1.sbatch', submitted_at: at(0), error: '',
      tasks: [
        { task_id: '0', state: 'RUNNING', reason: '', node: 'n1' },
        { task_id: '1', state: 'RUNNING', reason: '', node: 'n2' },
        { task_id: '2', state: 'PENDING', reason: 'Resources', node: '' },
        { task_id: '3', state: 'PENDING', reason: 'Resources', node: '' },
      ],
    },
    // A job whose tasks have all ended is not shown.
    { job_id: '4700', sweep: 'grid', array_size: 1, script: '', submitted_at: at(0), error: '', tasks: [{ task_id: '0', state: 'TIMEOUT', reason: '', node: '' }] },
  ];
  source.status(snap);
  const f = await dash.waitFor('the SLURM job line', (frame) => frame.includes('slurm 4711'));
  assert.match(f, / a \[4711_0\] +slots 1\/2/);
  assert.match(f, /slurm 4711 grid: 2 pending \(Resources\), 2 running/);
  assert.match(f, /1 SLURM job\(s\) queued/);
  assert.doesNotMatch(f, /slurm 4700/);
});
