import { Command } from 'commander';
import type { HostHealth__Output } from '../../proto/generated/dlphys/HostHealth.js';
import type { StatusReply__Output } from '../../proto/generated/dlphys/StatusReply.js';
import { textTable } from '../../lib/text_table.js';
import { RUN_STATES } from '../run_states.js';
import { unary } from '../../proto/client.js';
import { addClientOptions, type ClientFlags } from '../../lib/cli/client_options.js';
import { withCoordinator } from './client_call.js';
import { formatNumber } from '../../lib/format_number.js';


/** `dlphys-coord status [SWEEP]`: sweeps, agents and runs of a running coordinator, as tables or JSON. */
export function statusCommand(): Command {
  return addClientOptions(new Command('status'))
    .description('Show sweeps (runs per state), agents (state: alive, lost, left, quarantined), runs, and the coordinator\'s own health (a full disk) of a running coordinator.')
    .argument('[sweep]', 'only this sweep, with all its runs')
    .option('--json', 'the whole status as JSON', false)
    .addHelpText(
      'after',
      `
With --json: {sweeps, agents, runs, coordinator}; each run carries "params" (its swept values, by
dotted config path) and "summary" (its summary.json once it has ended, else null) as JSON objects.

Examples:
  $ dlphys-coord status
  $ dlphys-coord status grid --json | jq '.runs[] | {id, state, params, acc: .summary.best.val_acc}'
  $ dlphys-coord status --coord head:50051 --token-file ~/.dlphys-token`,
    )
    .action(async (sweep: string | undefined, flags: ClientFlags & { json: boolean }) => {
      const reply = await withCoordinator(flags, (conn) => unary(conn, 'Status', { sweep: sweep ?? '' }));
      process.stdout.write(flags.json ? JSON.stringify(statusJson(reply), null, 2) + '\n' : render(reply));
    });
}

/** The reply with each run's params and summary as objects rather than JSON text, so jq reaches into them. */
export function statusJson(reply: StatusReply__Output): Record<string, unknown> {
  return {
    ...reply,
    runs: reply.runs.map(({ params_json, summary_json, last_metrics_json, ...run }) => ({
      ...run,
      params: parseOrNull(params_json),
      summary: parseOrNull(summary_json),
      latest: parseOrNull(last_metrics_json),
    })),
  };
}

function parseOrNull(text: string): unknown {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    // Stored by the coordinator from JSON it checked; anything else is shown as it is.
    return text;
  }
}

const GiB = 1024 ** 3;

/** cpu, ram and gpu util cells of an agent's latest health: `37%`, `3.1/23.5G`, `96%,0%` ('-' before any). */
function healthCells(h: HostHealth__Output | null): string[] {
  if (!h) return ['-', '-', '-'];
  const ram = `${(Number(h.ram_used_bytes) / GiB).toFixed(1)}/${(Number(h.ram_total_bytes) / GiB).toFixed(1)}G`;
  return [`${Math.round(h.cpu_percent)}%`, ram, h.gpus.map((g) => `${Math.round(g.util_percent)}%`).join(',') || '-'];
}

function table(header: string[], rows: string[][]): string[] {
  return textTable([header, ...rows]);
}

/** A run in progress's latest metrics row, short, the sweep metric first: `step 40 val_acc=0.9 loss=0.31`. */
function latest(json: string, metric: string): string {
  const row = parseOrNull(json);
  if (!row || typeof row !== 'object') return '';
  const o = row as Record<string, unknown>;
  const numbers = Object.entries(o)
    .filter(([k, v]) => typeof v === 'number' && !['step', 'epoch', 'time'].includes(k))
    .sort(([a], [b]) => Number(b === metric) - Number(a === metric));
  const step = typeof o.step === 'number' ? `step ${o.step} ` : '';
  return (step + numbers.slice(0, 3).map(([k, v]) => `${k}=${formatNumber(v as number)}`).join(' ')).trim();
}

/**
 * The SLURM job arrays: one line per job with its tasks counted by state, then the tasks not yet
 * running an agent (pending, with SLURM's reason) — in the queue vs. an agent at work.
 */
function slurmLines(s: StatusReply__Output): string[] {
  const rows = s.slurm_jobs.map((j) => {
    const counts = new Map<string, number>();
    for (const t of j.tasks) counts.set(t.state, (counts.get(t.state) ?? 0) + 1);
    const states = [...counts].map(([state, n]) => `${n} ${state.toLowerCase()}`).join(', ');
    const pending = j.tasks.filter((t) => t.state === 'PENDING').map((t) => `${j.job_id}_${t.task_id}${t.reason ? ` (${t.reason})` : ''}`);
    const agents = s.agents.filter((a) => a.slurm_job.startsWith(`${j.job_id}_`) && a.state === 'alive').length;
    return [j.job_id, j.sweep, String(j.array_size), states, String(agents), pending.slice(0, 4).join(' ') + (pending.length > 4 ? ` +${pending.length - 4}` : ''), j.error ? `error: ${j.error}` : ''];
  });
  return table(['slurm job', 'sweep', 'tasks', 'task states', 'agents', 'pending', ''], rows);
}

function render(s: StatusReply__Output): string {
  const out: string[] = [];
  const health = s.coordinator;
  if (health?.disk_full) {
    out.push(`DISK FULL on the coordinator since ${health.disk_full_since}: run folders cannot land (agents keep them and retry); free space in its runs dir`, '');
  }
  out.push(
    ...table(
      ['sweep', 'total', ...RUN_STATES, 'metric'],
      s.sweeps.map((w) => [w.name, String(w.total), ...RUN_STATES.map((st) => String(w.states[st] ?? 0)), w.metric ? `${w.metric} (${w.goal})` : '']),
    ),
    '',
  );
  out.push(
    ...table(
      ['agent', 'host', 'slots', 'gpus', 'cpu', 'ram', 'gpu util', 'running', 'last heartbeat', 'state', 'lost runs', ...(s.slurm_jobs.length ? ['slurm job'] : [])],
      s.agents.map((a) => [
        a.id,
        a.host,
        String(a.slots),
        a.gpus.join(',') || '-',
        ...healthCells(a.health),
        String(a.running),
        a.last_heartbeat,
        a.state === 'quarantined' ? `quarantined until ${a.quarantined_until}` : a.state,
        String(a.lost_runs),
        ...(s.slurm_jobs.length ? [a.slurm_job || '-'] : []),
      ]),
    ),
  );
  if (s.slurm_jobs.length) out.push('', ...slurmLines(s));
  for (const w of s.sweeps) if (w.warning) out.push(`warning: sweep ${w.name}: ${w.warning}`);
  for (const w of s.sweeps) if (w.finished_reason) out.push(`sweep ${w.name} finished: ${w.finished_reason}`);
  if (s.runs.length) {
    out.push('');
    out.push(
      ...table(
        ['run', 'state', 'attempt', 'lost', 'agent', 'params', 'latest', 'error'],
        s.runs.map((r) => [
          r.id,
          r.state,
          String(r.attempt),
          String(r.lost_attempts),
          r.agent_id || '-',
          r.params_json,
          latest(r.last_metrics_json, s.sweeps.find((w) => w.name === r.sweep)?.metric ?? ''),
          (r.error ?? '').split('\n')[0]!.slice(0, 60),
        ]),
      ),
    );
  }
  return out.join('\n') + '\n';
}
