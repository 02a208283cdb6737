/**
 * The dashboard's redraw cost: `npm run bench:dash [-- --runs 500 --agents 20 --rate 50 --seconds 20]`.
 * The real dashboard (runDashboard) renders into a 160x50 terminal stand-in, fed by a synthetic
 * source: one sweep of `runs` runs with `agents` agents (each with CPU, RAM and a GPU), and
 * `rate` metric events a second spread over the running runs, plus a Status snapshot every 2 s,
 * as the coordinator source sends. Prints frames per second written to the terminal and the
 * CPU % of this process (the dashboard plus the small generator), and one JSON line.
 */
import { PassThrough, Writable } from 'node:stream';
import { scriptArgs } from '../lib/cli/flags.js';
import type { AgentStatus__Output } from '../proto/generated/dlphys/AgentStatus.js';
import type { RunStatus__Output } from '../proto/generated/dlphys/RunStatus.js';
// The front door every command uses (it loads Ink and React as a user's dashboard does).
import { runDashboard } from '../tui/cli/dash.js';
import type { DashEvent, DashSink, DashSource, RunDetail, StatusSnapshot } from '../tui/source.js';

const args = scriptArgs({ runs: 500, agents: 20, rate: 50, seconds: 20 });
const GiB = 2 ** 30;
const t0 = Date.now();
const iso = (ms: number) => new Date(ms).toISOString();

/** Runs 0..done-1 completed, the next `agents` running, the rest queued. */
function snapshot(done: number): StatusSnapshot {
  const running = Math.min(args.agents, args.runs - done);
  const state = (i: number) => (i < done ? 'completed' : i < done + running ? 'running' : 'queued');
  const runs: RunStatus__Output[] = Array.from({ length: args.runs }, (_, i) => ({
    id: `bench/r${i}`, sweep: 'bench', name: `r${i}`, state: state(i), attempt: 1, agent_id: state(i) === 'running' ? `agent${i % args.agents}` : '',
    params_json: JSON.stringify({ 'init.kwargs.sigma_w2': 1 + (i % 10) / 4, 'model.kwargs.depth': 2 + (i % 5), seed: i % 3 }),
    summary_json: i < done ? JSON.stringify({ status: 'completed', steps: 1000, wall_time: 30, best: { val_acc: 0.9 + (i % 7) / 100 }, final: { val_acc: 0.9 } }) : '',
    error: '', updated_at: iso(t0), lost_attempts: 0, last_metrics_json: '',
  }));
  const agents: AgentStatus__Output[] = Array.from({ length: args.agents }, (_, a) => ({
    id: `agent${a}`, host: `gpu-host-${a}`, gpus: ['0'], slots: 1, last_heartbeat: iso(Date.now()), alive: true, running: 1, state: 'alive', quarantined_until: '', lost_runs: 0, slurm_job: '',
    health: { cpu_percent: 50 + (a % 40), ram_used_bytes: String(20 * GiB), ram_total_bytes: String(64 * GiB), collected_at: iso(Date.now()),
      gpus: [{ index: 0, name: 'A100', util_percent: 90, mem_used_bytes: String(30 * GiB), mem_total_bytes: String(80 * GiB) }] },
  }));
  const states = { queued: 0, leased: 0, running: 0, completed: 0, diverged: 0, failed: 0, cancelled: 0 } as Record<string, number>;
  for (const r of runs) states[r.state]!++;
  return {
    sweeps: [{ name: 'bench', created_at: iso(t0), total: args.runs, states, metric: 'val_acc', goal: 'max', warning: '', finished_reason: '' }],
    agents, runs,
    coordinator: { disk_full: false, disk_error: '', disk_full_since: '', runs_dir_free_bytes: '-1', version: 'bench' },
    slurm_jobs: [],
  } as StatusSnapshot;
}

class SyntheticSource implements DashSource {
  readonly label = `synthetic: ${args.runs} runs, ${args.agents} agents, ${args.rate} metric events/s`;
  start(sink: DashSink): () => void {
    let id = 0;
    let done = Math.floor(args.runs / 3);
    let step = 0;
    sink.connection({ state: 'live' });
    sink.status(snapshot(done));
    const events = setInterval(() => {
      // A tenth of a second's events in one batch, as a Watch stream delivers them.
      const batch: DashEvent[] = [];
      for (let k = 0; k < args.rate / 10; k++) {
        const run = done + ((id + k) % Math.min(args.agents, args.runs - done));
        step += 1;
        batch.push({ id: String(++id), time: iso(Date.now()), type: 'metrics', sweep: 'bench', run_id: `bench/r${run}`, agent_id: `agent${run % args.agents}`,
          data_json: JSON.stringify({ attempt: 1, rows: 1, acked_seq: step, last_seq: step, last: { split: 'val', step, val_acc: 0.5 + 0.4 * (1 - Math.exp(-step / 500)), val_loss: Math.exp(-step / 500) } }) });
      }
      sink.events(batch);
    }, 100);
    const status = setInterval(() => {
      done = Math.min(args.runs, done + 1);
      sink.status(snapshot(done));
    }, 2000);
    return () => {
      clearInterval(events);
      clearInterval(status);
    };
  }
  runDetail(): Promise<RunDetail> {
    return Promise.reject(new Error('no detail in the bench'));
  }
}

/** A terminal stand-in of 160x50: counts what the dashboard writes. */
let writes = 0;
let bytes = 0;
const stdout = Object.assign(
  new Writable({ write(chunk: Buffer, _enc, cb) { writes++; bytes += chunk.length; cb(); } }),
  { columns: 160, rows: 50, isTTY: true },
) as unknown as NodeJS.WriteStream;
const stdin = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => {}, ref: () => {}, unref: () => {} }) as unknown as NodeJS.ReadStream;

const shown = runDashboard(new SyntheticSource(), { stdout, stdin, color: true });
// Let it draw the first frame and settle, then measure.
await new Promise((resolve) => setTimeout(resolve, 2000));
const [w0, b0, c0, s0] = [writes, bytes, process.cpuUsage(), Date.now()];
await new Promise((resolve) => setTimeout(resolve, args.seconds * 1000));
const cpu = process.cpuUsage(c0);
const wall = (Date.now() - s0) / 1000;
const fps = (writes - w0) / wall;
const cpuPercent = (100 * (cpu.user + cpu.system)) / 1e6 / wall;
console.error(`dashboard with ${args.runs} runs, ${args.agents} agents, ${args.rate} metric events/s, ${args.seconds} s:`);
console.error(`  frames written   ${fps.toFixed(1)} /s   (${((bytes - b0) / wall / 1024).toFixed(1)} KiB/s to the terminal)`);
console.error(`  CPU              ${cpuPercent.toFixed(1)} % of one core (dashboard and the generator)`);
// Not console.log: Ink routes the console into its own frames while it renders.
process.stdout.write(`${JSON.stringify({ bench: 'dash', runs: args.runs, agents: args.agents, rate: args.rate, fps: Number(fps.toFixed(2)), cpu_percent: Number(cpuPercent.toFixed(1)) })}\n`);
stdin.write('q');
await shown;
process.exit(0);
