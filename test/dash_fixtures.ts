/**
 * For the dashboard's tests: the contract's messages built with defaults (a sweep, an agent with
 * its health, a run, an event), a scripted DashSource that sends what a test tells it to, and a
 * render helper that fixes the terminal's size, supplies the providers, and presses keys.
 */
import { render } from 'ink-testing-library';
import { createElement } from 'react';
import type { AgentStatus__Output } from '../proto/generated/dlphys/AgentStatus.js';
import type { HostHealth__Output } from '../proto/generated/dlphys/HostHealth.js';
import type { RunStatus__Output } from '../proto/generated/dlphys/RunStatus.js';
import type { SweepStatus__Output } from '../proto/generated/dlphys/SweepStatus.js';
import { App, type AppProps } from '../tui/components/App.js';
import type { ConnectionState, DashEvent, DashSink, DashSource, RunDetail, StatusSnapshot } from '../tui/source.js';

/** 2026-01-01T00:00:00Z, and seconds after it as ISO times. */
export const T0 = Date.parse('2026-01-01T00:00:00Z');
export const at = (s: number) => new Date(T0 + s * 1000).toISOString();
/** Local epoch ms `s` seconds after T0. */
export const local = (s: number) => T0 + s * 1000;

const STATES = ['queued', 'leased', 'running', 'completed', 'diverged', 'failed', 'cancelled'];

/** A sweep's status; `goal` as the store keeps it ('max' | 'min'). */
export function sweep(name: string, states: Record<string, number>, metric = 'val_acc', goal = 'max'): SweepStatus__Output {
  const all = Object.fromEntries(STATES.map((s) => [s, states[s] ?? 0]));
  return { name, created_at: at(0), total: Object.values(all).reduce((a, b) => a + b, 0), states: all, metric, goal, warning: '', finished_reason: '' };
}

export function health(cpu: number, ramUsedGb: number, ramTotalGb: number, gpus: [number, number, number][] = [], collectedAt = at(0)): HostHealth__Output {
  const gb = (x: number) => String(Math.round(x * 2 ** 30));
  return {
    cpu_percent: cpu,
    ram_used_bytes: gb(ramUsedGb),
    ram_total_bytes: gb(ramTotalGb),
    gpus: gpus.map(([util, used, total], index) => ({ index, name: 'A100', util_percent: util, mem_used_bytes: gb(used), mem_total_bytes: gb(total) })),
    collected_at: collectedAt,
  };
}

export function agent(id: string, fields: Partial<AgentStatus__Output> = {}): AgentStatus__Output {
  return {
    id,
    host: id,
    gpus: [],
    slots: 2,
    last_heartbeat: at(0),
    alive: true,
    running: 0,
    state: 'alive',
    quarantined_until: '',
    lost_runs: 0,
    health: null,
    slurm_job: '',
    ...fields,
  };
}

export function run(sweepName: string, name: string, state: string, params: Record<string, unknown>, fields: Partial<RunStatus__Output> = {}): RunStatus__Output {
  return {
    id: `${sweepName}/${name}`,
    sweep: sweepName,
    name,
    state,
    attempt: 1,
    agent_id: '',
    params_json: JSON.stringify(params),
    summary_json: '',
    error: '',
    updated_at: at(0),
    lost_attempts: 0,
    last_metrics_json: '',
    ...fields,
  };
}

export function snapshot(sweeps: SweepStatus__Output[], agents: AgentStatus__Output[], runs: RunStatus__Output[]): StatusSnapshot {
  return { sweeps, agents, runs, coordinator: { disk_full: false, disk_error: '', disk_full_since: '', runs_dir_free_bytes: '-1', version: 'test' }, slurm_jobs: [] };
}

/** An event `id` of `type` at `seconds` after T0; `data` becomes its data_json. */
export function event(id: number, type: string, seconds: number, f: { sweep?: string; run?: string; agent?: string; data?: unknown } = {}): DashEvent {
  return {
    id: String(id),
    time: at(seconds),
    type,
    sweep: f.sweep ?? '',
    run_id: f.run ?? '',
    agent_id: f.agent ?? '',
    data_json: f.data === undefined ? '' : JSON.stringify(f.data),
  };
}

/** A metrics event with the compact last line the coordinator puts in it. */
export function metrics(id: number, seconds: number, runId: string, last: Record<string, number | string>, attempt = 1): DashEvent {
  return event(id, 'metrics', seconds, { sweep: runId.split('/')[0], run: runId, data: { attempt, rows: 1, acked_seq: 1, last_seq: 1, last } });
}

/** A DashSource a test drives: what it is told to send reaches the sink; details are served from a map. */
// A scripted sweep: six runs of a grid over lr and seed, two done, two running, two queued;
// three agents (one with a GPU, one stale, one lost). Its events are what led there.
const PARAMS = [
  { 'optimizer.kwargs.lr': 0.1, seed: 0, 'train.batch_size': 32 },
  { 'optimizer.kwargs.lr': 0.01, seed: 0, 'train.batch_size': 32 },
  { 'optimizer.kwargs.lr': 0.1, seed: 1, 'train.batch_size': 32 },
  { 'optimizer.kwargs.lr': 0.01, seed: 1, 'train.batch_size': 32 },
  { 'optimizer.kwargs.lr': 0.001, seed: 0, 'train.batch_size': 32 },
  { 'optimizer.kwargs.lr': 0.001, seed: 1, 'train.batch_size': 32 },
];

const summary = (best: number, wall: number) => JSON.stringify({ status: 'completed', steps: 100, wall_time: wall, best: { val_acc: best }, final: { val_acc: best } });

/** The grid sweep at 150 s: r0 and r1 finished (60 s each), r2 and r3 running since 130 s, r4 and r5 queued. */
export function gridStatus(): StatusSnapshot {
  return snapshot(
    [sweep('grid', { completed: 2, running: 2, queued: 2 })],
    [
      agent('a', { last_heartbeat: at(150), health: health(40, 8, 32, [[90, 10, 40]]), running: 1 }),
      agent('b', { last_heartbeat: at(120), running: 1 }),
      agent('c', { last_heartbeat: at(10), state: 'lost', alive: false }),
    ],
    [
      run('grid', 'r0', 'completed', PARAMS[0]!, { summary_json: summary(0.8, 60) }),
      run('grid', 'r1', 'completed', PARAMS[1]!, { summary_json: summary(0.9, 60) }),
      run('grid', 'r2', 'running', PARAMS[2]!, { agent_id: 'a' }),
      run('grid', 'r3', 'running', PARAMS[3]!, { agent_id: 'b' }),
      run('grid', 'r4', 'queued', PARAMS[4]!),
      run('grid', 'r5', 'queued', PARAMS[5]!),
    ],
  );
}

export function gridEvents(): DashEvent[] {
  let id = 1;
  const e = [event(id++, 'sweep_submitted', 0, { sweep: 'grid', data: { runs: 6 } })];
  for (const [r, start, end] of [['r0', 10, 70], ['r1', 70, 130]] as const) {
    e.push(event(id++, 'run_leased', start, { sweep: 'grid', run: `grid/${r}`, agent: 'a', data: { attempt: 1 } }));
    e.push(event(id++, 'run_started', start, { sweep: 'grid', run: `grid/${r}`, agent: 'a', data: { attempt: 1 } }));
    for (let s = 1; s <= 5; s++) e.push(metrics(id++, start + s * 10, `grid/${r}`, { split: 'val', step: s * 20, val_acc: (r === 'r0' ? 0.7 : 0.8) + s * 0.02, loss: 1 / s }));
    e.push(event(id++, 'run_finished', end, { sweep: 'grid', run: `grid/${r}`, agent: 'a', data: { attempt: 1, state: 'completed', status: 'completed' } }));
  }
  for (const r of ['r2', 'r3']) {
    e.push(event(id++, 'run_leased', 130, { sweep: 'grid', run: `grid/${r}`, data: { attempt: 1 } }));
    e.push(event(id++, 'run_started', 130, { sweep: 'grid', run: `grid/${r}`, data: { attempt: 1 } }));
  }
  e.push(metrics(id++, 140, 'grid/r2', { split: 'train', step: 50, loss: 0.5, acc: 0.6 }));
  e.push(metrics(id++, 145, 'grid/r2', { split: 'val', step: 50, val_acc: 0.95, val_loss: 0.4 }));
  return e;
}

export class ScriptedSource implements DashSource {
  readonly label = 'scripted';
  private sink: DashSink | null = null;
  readonly details = new Map<string, RunDetail>();
  readonly detailCalls: string[] = [];
  started = 0;
  stopped = 0;

  start(sink: DashSink): () => void {
    this.sink = sink;
    this.started++;
    return () => {
      this.stopped++;
      this.sink = null;
    };
  }

  async runDetail(runId: string, logLines: number): Promise<RunDetail> {
    this.detailCalls.push(`${runId}:${logLines}`);
    const d = this.details.get(runId);
    if (!d) throw new Error(`no run ${runId}`);
    return { ...d, log_tail: d.log_tail.slice(-logLines || d.log_tail.length) };
  }

  status(s: StatusSnapshot): void {
    this.sink!.status(s);
  }

  events(e: DashEvent[]): void {
    this.sink!.events(e);
  }

  connection(c: ConnectionState): void {
    this.sink!.connection(c);
  }
}

export const KEY = {
  up: '\u001B[A',
  down: '\u001B[B',
  right: '\u001B[C',
  left: '\u001B[D',
  tab: '\t',
  shiftTab: '\u001B[Z',
  enter: '\r',
  escape: '\u001B',
  backspace: '\u007F',
  space: ' ',
} as const;

const tick = () => new Promise((r) => setTimeout(r, 5));

/**
 * Renders the App against `source` in a terminal of `columns` × `rows` (no colour: frames are
 * plain text), with `clock` as its time. `press` sends keys one at a time, waiting for each to
 * be handled; `waitFor` waits until the last frame satisfies `check`.
 */
export function renderDash(source: DashSource, options: { columns?: number; rows?: number; clock?: () => number } & Partial<AppProps> = {}) {
  const { columns = 100, rows = 30, clock = () => T0 + 60_000, ...props } = options;
  const r = render(createElement(App, { source, color: false, clock, frameMs: 0, ...props }));
  // ink-testing-library's stdout is 100 columns and has no rows: give it the size under test.
  Object.defineProperty(r.stdout, 'columns', { value: columns, configurable: true });
  Object.defineProperty(r.stdout, 'rows', { value: rows, configurable: true });
  r.stdout.emit('resize');
  const frame = () => r.lastFrame() ?? '';
  return {
    ...r,
    frame,
    async press(...keys: string[]): Promise<void> {
      for (const k of keys) {
        r.stdin.write(k);
        await tick();
        await tick();
      }
    },
    async waitFor(what: string, check: (frame: string) => boolean, ms = 3000): Promise<string> {
      const deadline = Date.now() + ms;
      while (!check(frame())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last frame:\n${frame()}`);
        await tick();
      }
      return frame();
    },
  };
}
