/**
 * Orchestrator throughput on this machine, with real processes on 127.0.0.1:
 *   1. runs dispatched per second through one coordinator with 16 agent slots, and the median gap
 *      on a slot between the end of one run's training and the start of the next one's;
 *   2. metric rows ingested per second (ReportMetrics batches of 1000 rows);
 *   3. run-folder upload throughput in MB/s.
 * Usage: npm run bench:orchestrator [-- --runs 64 --agents 2 --slots 8 --runs-per-process N]
 * The agents run with their defaults (runner processes reused) unless --runs-per-process is given.
 * Prints where each run's time went on its agent (bench/phases.ts), a table, and one JSON line per figure.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { scriptArgs } from '../lib/cli/flags.js';
import { textTable } from '../lib/text_table.js';
import { AGENT_SECRET_KEY, PROTOCOL_VERSION } from '../proto/wire.js';
import { connect, unary } from '../proto/client.js';
import { uploadFolder } from '../agent/sync_sender.js';
import { query, startAgent, startCoordinator, tinySweep, workspace } from '../test/cluster.js';
import { phaseReport, readPhases, slotGaps } from './phases.js';

// --runs-per-process 0: the agents' default.
const args = scriptArgs({ runs: 64, agents: 2, slots: 8, rows: 200000, 'upload-mib': 256, 'runs-per-process': 0 });
const rppFlag = args['runs-per-process'] > 0 ? ['--runs-per-process', String(args['runs-per-process'])] : [];
const nRuns = args.runs;
const nAgents = args.agents;
const nSlots = args.slots;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[Math.floor((s.length - 1) / 2)]! + s[Math.ceil((s.length - 1) / 2)]!) / 2 : NaN;
};
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? NaN;
const results: Record<string, number>[] = [];
const report = (name: string, figures: Record<string, number>) => {
  results.push({ ...figures });
  console.log(JSON.stringify({ bench: name, ...figures }));
};

async function dispatch(): Promise<void> {
  // Trivial runs: 2 steps of a tiny MLP, so what is measured is the orchestration around them.
  const sweep = tinySweep({ name: 'dispatch', runs: nRuns, steps: 2, logEvery: 1 });
  const ws = workspace(sweep);
  const coord = await startCoordinator(['sweep', ws.sweepFile, '--port', '0', '--db', ws.db, '--runs-dir', ws.runsDir, '--exit-when-done']);
  const phasesFile = path.join(ws.dir, 'phases.jsonl');
  const agents = Array.from({ length: nAgents }, () =>
    startAgent(coord.address, ['--slots', String(nSlots), '--exit-when-idle', '--poll', '50', ...rppFlag], { DLPHYS_PHASES_FILE: phasesFile }),
  );
  const codes = await Promise.all([coord.exited, ...agents.map((a) => a.exited)]);
  if (codes.some((c) => c !== 0)) throw new Error(`dispatch bench: a process failed (${codes.join(', ')})\n${coord.log()}`);

  const attempts = query<{ run_id: string; agent_id: string; leased_at: number; ended_at: number; summary_json: string }>(
    ws.db,
    "SELECT a.run_id, a.agent_id, a.leased_at, a.ended_at, r.summary_json FROM attempts a JOIN runs r ON r.id = a.run_id WHERE a.outcome = 'completed'",
  );
  if (attempts.length !== nRuns) {
    const others = query<{ id: string; state: string; error: string | null }>(ws.db, "SELECT id, state, error FROM runs WHERE state != 'completed'");
    const lost = query<{ run_id: string; attempt: number; outcome: string; error: string | null }>(ws.db, "SELECT run_id, attempt, outcome, error FROM attempts WHERE outcome != 'completed'");
    throw new Error(`dispatch bench: ${attempts.length} of ${nRuns} runs completed\n${JSON.stringify({ others, lost }, null, 1)}\n${coord.log()}`);
  }
  const first = Math.min(...attempts.map((a) => a.leased_at));
  const last = Math.max(...attempts.map((a) => a.ended_at));
  // Training start/end of each run as its own process recorded them (summary.json).
  const spans = attempts.map((a) => {
    const s = JSON.parse(a.summary_json) as { started_at: string; ended_at: string };
    return { agent: a.agent_id, start: Date.parse(s.started_at), end: Date.parse(s.ended_at) };
  });
  // Gaps on one slot: an agent's runs in start order, each next start matched to the earliest
  // end not yet taken — the slot that freed first is the one that takes the next lease.
  const gaps: number[] = [];
  for (const agent of new Set(spans.map((s) => s.agent))) {
    const mine = spans.filter((s) => s.agent === agent).sort((a, b) => a.start - b.start);
    const ends = mine.slice(0, nSlots).map((s) => s.end);
    for (const run of mine.slice(nSlots)) {
      ends.sort((a, b) => a - b);
      gaps.push(run.start - ends.shift()!);
      ends.push(run.end);
    }
  }
  const phases = readPhases(phasesFile);
  console.log(['where a run\'s time goes on its agent (ms):', ...phaseReport(phases, slotGaps(phases))].join('\n'));
  report('dispatch', {
    runs: nRuns,
    runs_per_process: args['runs-per-process'],
    slots: nAgents * nSlots,
    runs_per_s: nRuns / ((last - first) / 1000),
    gap_median_ms: median(gaps),
    gap_p90_ms: quantile(gaps, 0.9),
    train_median_ms: median(spans.map((s) => s.end - s.start)),
  });
}

async function ingestion(): Promise<void> {
  const ws = workspace(tinySweep({ name: 'ingest', runs: 1 }));
  const coord = await startCoordinator(['sweep', ws.sweepFile, '--port', '0', '--db', ws.db, '--runs-dir', ws.runsDir]);
  const conn = connect(coord.address);
  try {
    const { agent_secret } = await unary(conn, 'Register', { agent_id: 'bench', host: 'bench', gpus: [], slots: 1, version: '0', backend: 'none', protocol: PROTOCOL_VERSION });
    conn.metadata.set(AGENT_SECRET_KEY, agent_secret);
    const [leased] = (await unary(conn, 'Lease', { agent_id: 'bench', max_runs: 1 })).runs;
    const run = leased!.run!;
    const total = args.rows;
    const batch = 1000;
    const line = JSON.stringify({ step: 1, epoch: 0, time: 0.1, split: 'train', loss: 0.123456789, acc: 0.5, lr: 0.1 });
    // Two batches in flight, as an agent with several slots has.
    const t0 = performance.now();
    let seq = 0;
    const sendNext = async (): Promise<void> => {
      while (seq < total) {
        const rows = Array.from({ length: batch }, () => ({ seq: String(++seq), line }));
        await unary(conn, 'ReportMetrics', { run, agent_id: 'bench', rows });
      }
    };
    await Promise.all([sendNext(), sendNext()]);
    const seconds = (performance.now() - t0) / 1000;
    const stored = query<{ n: number }>(ws.db, 'SELECT COUNT(*) n FROM metrics')[0]!.n;
    if (stored !== total) throw new Error(`ingestion bench: ${stored} of ${total} rows stored`);
    report('metrics', { rows: total, rows_per_s: total / seconds });

    // Upload: a folder of random bytes, three times; the median.
    const mib = args['upload-mib'];
    const dir = path.join(ws.dir, 'folder');
    fs.mkdirSync(dir);
    for (let i = 0; i < 4; i++) fs.writeFileSync(path.join(dir, `blob${i}.bin`), crypto.randomBytes((mib / 4) * 1024 * 1024));
    const rates: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      const { bytes } = await uploadFolder(conn.client, { ref: { runId: run.run_id, attempt: run.attempt }, agentId: 'bench', dir, metadata: conn.metadata });
      rates.push(bytes / 1e6 / ((performance.now() - t) / 1000));
    }
    report('upload', { mib, mb_per_s: median(rates) });
  } finally {
    conn.close();
    coord.kill();
    await coord.exited;
  }
}

await dispatch();
await ingestion();
const [d, m, u] = results;
const table = [
  ['figure', 'measured', '', 'aim', ''],
  [`runs dispatched per second (${d!.slots} slots)`, d!.runs_per_s!.toFixed(2), '', '', ''],
  ['gap between runs on a slot, median', d!.gap_median_ms!.toFixed(1), 'ms', '<= 50 ms, p90 <= 200', `(p90 ${d!.gap_p90_ms!.toFixed(1)} ms)`],
  ['metric rows ingested per second', m!.rows_per_s!.toFixed(0), '', '>= 50000', ''],
  ['upload throughput (loopback)', u!.mb_per_s!.toFixed(1), 'MB/s', '>= 100', ''],
];
console.log(['', ...textTable(table, { right: [false, true] })].join('\n'));
