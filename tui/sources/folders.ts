/**
 * A DashSource fed by run folders alone (`dlphys dash DIR`): no coordinator, no database. Every
 * folder under DIR that holds a config.json or a metrics.jsonl is a run (lib/scan's rule); its
 * sweep is the name of the folder it sits in, its id `<sweep>/<run>` as the coordinator names
 * runs, its params the config values that differ across its sweep (what scan shows as columns).
 *
 * It speaks what a coordinator would: a StatusReply snapshot whenever something changed, and
 * `metrics` events shaped like the coordinator's (data: attempt, rows, acked_seq, last_seq and
 * `last`, the line's numbers as coordinator/events.ts compacts them). The first snapshot comes
 * with the newest line of each split of each run (as a coordinator's compacted replay would give);
 * after that, one event per new line, plus run_started / run_finished when a folder appears or
 * its summary.json does.
 *
 * Live: a poll every `pollMs` while a run is running, five times slower when none is, and an
 * fs.watch on DIR whose events bring an idle poll forward (a new run shows within 100 ms). A poll
 * stats every run's files and reads only what changed, metrics.jsonl from where it stopped
 * (tui/sources/run_folder.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { RunStatus__Output } from '../../proto/generated/dlphys/RunStatus.js';
import type { SweepStatus__Output } from '../../proto/generated/dlphys/SweepStatus.js';
import { RUN_STATES } from '../../coordinator/run_states.js';
import { compactMetrics } from '../../coordinator/events.js';
import { stamp } from '../../lib/log.js';
import { localLiveness, type Liveness } from '../../lib/scan/read_run.js';
import { findRunFolders, flattenConfig, type ScanError } from '../../lib/scan/scan.js';
import type { DashEvent, DashSink, DashSource, RunDetail, StatusSnapshot } from '../source.js';
import { tailLines } from '../../lib/run/log_tail.js';
import { RunFolder, type MetricLine } from './run_folder.js';

export interface FolderSourceOptions {
  /** Between polls while a run is running; five times this while none is. @default 1000 */
  readonly pollMs?: number;
  /** How a run without summary.json is told alive or crashed (tests supply their own). */
  readonly liveness?: Liveness;
}

/** Which metric a sweep is ranked by, when nothing says: the first of these its runs log. */
const RANKING = [
  ['val_acc', 'max'],
  ['val_loss', 'min'],
  ['acc', 'max'],
  ['loss', 'min'],
] as const;

const natural = new Intl.Collator('en', { numeric: true });

/** The run folders under `dir` as a dashboard source (see the file's comment). */
export function folderSource(dir: string, options: FolderSourceOptions = {}): DashSource {
  const root = path.resolve(dir);
  const liveness = options.liveness ?? localLiveness;
  const runs = new Map<string, RunFolder>();

  /** Finds new run folders and forgets removed ones; returns those found this time, and whether any went. */
  function discover(): { added: RunFolder[]; removed: boolean } {
    const errors: ScanError[] = [];
    const found = new Set<string>();
    const added: RunFolder[] = [];
    for (const folder of findRunFolders(root, (d) => d, errors)) {
      const abs = path.resolve(folder);
      // A run directly in DIR belongs to DIR's sweep; DIR itself a run folder: to its parent's.
      const name = path.basename(abs);
      const sweep = path.basename(path.dirname(abs));
      const id = `${sweep}/${name}`;
      found.add(id);
      const known = runs.get(id);
      if (known && known.dir === abs) continue;
      const run = new RunFolder(abs, id, sweep, name);
      runs.set(id, run);
      added.push(run);
    }
    let removed = false;
    for (const id of runs.keys()) {
      if (found.has(id)) continue;
      runs.delete(id);
      removed = true;
    }
    return { added, removed };
  }

  function snapshot(): StatusSnapshot {
    const bySweep = new Map<string, RunFolder[]>();
    for (const run of [...runs.values()].sort((a, b) => natural.compare(a.id, b.id))) {
      const list = bySweep.get(run.sweep);
      if (list) list.push(run);
      else bySweep.set(run.sweep, [run]);
    }
    const sweeps: (SweepStatus__Output & { first: number })[] = [];
    const wireRuns: RunStatus__Output[] = [];
    for (const [name, members] of bySweep) {
      const states: Record<string, number> = Object.fromEntries(RUN_STATES.map((s) => [s, 0]));
      const params = differingParams(members);
      for (const run of members) {
        const { state, error } = run.state(liveness);
        states[state] = (states[state] ?? 0) + 1;
        wireRuns.push({
          id: run.id,
          sweep: run.sweep,
          name: run.name,
          state,
          attempt: 1,
          agent_id: '',
          params_json: JSON.stringify(params.get(run) ?? {}),
          summary_json: run.summary ? JSON.stringify(run.summary) : '',
          error,
          updated_at: run.updatedAt ? stamp('iso', run.updatedAt) : '',
          lost_attempts: 0,
          last_metrics_json: '',
        });
      }
      const started = members.map((r) => Date.parse(String(r.provenance?.started_at ?? ''))).filter(Number.isFinite);
      const first = started.length ? Math.min(...started) : Math.min(...members.map((r) => r.updatedAt || Infinity));
      const [metric, goal] = RANKING.find(([m]) => members.some((r) => [...r.lastBySplit.values()].some((l) => m in l.value))) ?? ['', ''];
      sweeps.push({ name, created_at: Number.isFinite(first) ? stamp('iso', first) : '', total: members.length, states, metric, goal, warning: '', finished_reason: '', first });
    }
    sweeps.sort((a, b) => a.first - b.first || natural.compare(a.name, b.name));
    return { sweeps: sweeps.map(({ first: _, ...s }) => s), agents: [], runs: wireRuns, coordinator: null, slurm_jobs: [] };
  }

  let nextId = 0;
  const event = (type: string, run: RunFolder, data: unknown, time = Date.now()): DashEvent => ({
    id: String(++nextId),
    time: stamp('iso', time),
    type,
    sweep: run.sweep,
    run_id: run.id,
    agent_id: '',
    data_json: JSON.stringify(data),
  });
  const metricsEvent = (run: RunFolder, line: MetricLine, time?: number): DashEvent =>
    event('metrics', run, { attempt: 1, rows: 1, acked_seq: line.seq, last_seq: line.seq, last: compactMetrics(line.value) }, time);

  function start(sink: DashSink): () => void {
    let stopped = false;
    let timer: NodeJS.Timeout | null = null;
    let watcher: fs.FSWatcher | null = null;
    let missing = false;
    let dueAt = 0;
    /** Some run was running at the last poll. */
    let running = false;
    const pollMs = options.pollMs ?? 1000;
    const schedule = (ms: number, first: boolean) => {
      if (timer) clearTimeout(timer);
      dueAt = Date.now() + ms;
      timer = setTimeout(() => poll(first), ms);
    };

    const poll = (first: boolean) => {
      timer = null;
      if (stopped) return;
      if (!isDirectory(root)) {
        // Deleted or not mounted yet: say so, and look again.
        if (!missing) sink.connection({ state: 'reconnecting', reason: `${dir} is not a folder (any more)` });
        missing = true;
        schedule(pollMs, first);
        return;
      }
      const { added, removed } = discover();
      const events: DashEvent[] = [];
      let changed = first || missing || removed || added.length > 0;
      for (const run of runs.values()) {
        const before = run.summary !== null;
        const isNew = added.includes(run);
        const { changed: c, lines } = run.refresh();
        changed ||= c;
        if (first) continue;
        if (isNew) events.push(event('run_started', run, { attempt: 1 }));
        for (const line of lines) events.push(metricsEvent(run, line));
        if (!before && run.summary) {
          const { state } = run.state(liveness);
          events.push(event('run_finished', run, { attempt: 1, state, status: String(run.summary.status ?? '') }));
        }
      }
      if (first) {
        // As a coordinator's compacted replay: the newest line of each split of each run.
        for (const run of runs.values()) for (const line of run.lastBySplit.values()) events.push(metricsEvent(run, line, run.updatedAt || undefined));
        events.sort((a, b) => natural.compare(a.run_id, b.run_id));
        events.forEach((e, i) => (e.id = String(i + 1)));
      }
      if (changed) sink.status(snapshot());
      if (events.length) sink.events(events);
      if (first || missing) sink.connection({ state: 'live' });
      missing = false;
      ensureWatcher();
      running = [...runs.values()].some((r) => r.state(liveness).state === 'running');
      schedule(running ? pollMs : 5 * pollMs, false);
    };

    /**
     * A change under DIR while nothing ran (a new run, most likely) brings the next poll forward
     * to 100 ms away; while runs train, polls come every pollMs anyway. Only ever forward: a
     * training run writes more often than that, and pushing the poll back at each write would
     * starve it.
     */
    const soon = () => {
      if (stopped || !timer || running) return;
      const delay = Math.min(100, pollMs);
      if (dueAt - Date.now() > delay) schedule(delay, false);
    };

    function ensureWatcher(): void {
      if (watcher) return;
      try {
        watcher = fs.watch(root, { recursive: true }, soon);
      } catch {
        try {
          // Where recursive watching is not supported: new run folders at least.
          watcher = fs.watch(root, soon);
        } catch {
          return; // polling alone
        }
      }
      watcher.on('error', () => {
        watcher?.close();
        watcher = null;
      });
    }

    sink.connection({ state: 'connecting' });
    schedule(0, true);
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      watcher?.close();
    };
  }

  async function runDetail(runId: string, logLines: number): Promise<RunDetail> {
    if (!runs.has(runId)) discover();
    const run = runs.get(runId);
    if (!run) throw new Error(`no run ${runId} under ${dir}`);
    run.refresh();
    const wire = snapshot().runs.find((r) => r.id === runId)!;
    let configJson = '';
    try {
      configJson = fs.readFileSync(path.join(run.dir, 'config.json'), 'utf8');
    } catch {
      // Not written yet: the detail shows no config.
    }
    return { run: wire, config_json: configJson, metric_lines: run.metricLines(), log_tail: await tailLines(path.join(run.dir, 'train.log'), logLines) };
  }

  return { label: dir, start, runDetail };
}

/** For each run, the config values (dotted paths) that differ across its sweep, as they are in config.json. */
function differingParams(members: readonly RunFolder[]): Map<RunFolder, Record<string, unknown>> {
  const flat = members.map((r) => flattenConfig(r.config ?? {}));
  const keys = new Set(flat.flatMap((f) => Object.keys(f)));
  keys.delete('name');
  const differing = [...keys].filter((k) => new Set(flat.map((f) => (k in f ? JSON.stringify(f[k]) : 'absent'))).size > 1);
  return new Map(
    members.map((r, i) => [r, Object.fromEntries(differing.filter((k) => k in flat[i]!).map((k) => [k, valueAt(r.config ?? {}, k)]))]),
  );
}

/** The value at a dotted path (flattenConfig's keys), arrays as arrays rather than their JSON. */
function valueAt(config: Record<string, unknown>, dotted: string): unknown {
  let v: unknown = config;
  for (const part of dotted.split('.')) v = (v as Record<string, unknown>)?.[part];
  return v;
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}
