/**
 * Program sweeps on this machine, with real processes on 127.0.0.1: a W&B-style Python script
 * (wandb shim, 20 logged rows) run N times through a coordinator and one agent, against the same
 * script run N times directly by this process with the same parallelism (the reference a user
 * would write with a shell loop: no leases, no streaming, no upload).
 * Usage: npm run bench:programs [-- --runs 24 --slots 2]
 * Prints a table and one JSON line per figure.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { WANDB_SHIM_DIR } from '../agent/program_host.js';
import { scriptArgs } from '../lib/cli/flags.js';
import { textTable } from '../lib/text_table.js';
import { query, startAgent, startCoordinator } from '../test/cluster.js';
import { tempDir } from '../test/helpers.js';

const args = scriptArgs({ runs: 24, slots: 2 });
const SCRIPT = `import wandb
run = wandb.init(config={"lr": 0.1})
for step in range(20):
    wandb.log({"loss": wandb.config.lr / (step + 1)})
`;

/** Runs `count` copies of the script, `slots` at a time, as a shell loop would; returns the wall time in ms. */
async function direct(dir: string, count: number, slots: number): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const runDir = path.join(dir, 'direct', `r${i}`);
      fs.mkdirSync(runDir, { recursive: true });
      fs.writeFileSync(path.join(runDir, 'config.json'), '{}');
      await new Promise<void>((resolve, reject) => {
        const child = spawn('python3', [path.join(dir, 'train.py'), `--lr=0.1`], {
          cwd: dir,
          env: { ...process.env, PYTHONPATH: WANDB_SHIM_DIR, DLPHYS_RUN_DIR: runDir, DLPHYS_PARAMS_JSON: '{"lr": 0.1}' },
          stdio: 'ignore',
        });
        child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`direct run exited ${code}`))));
      });
    }
  };
  await Promise.all(Array.from({ length: slots }, worker));
  return performance.now() - t0;
}

async function main(): Promise<void> {
  if (!(await new Promise<boolean>((r) => spawn('python3', ['--version']).once('close', (c) => r(c === 0)).once('error', () => r(false))))) {
    console.log('python3 is not installed: nothing to measure');
    return;
  }
  const dir = tempDir('dlphys-bench-programs-');
  fs.writeFileSync(path.join(dir, 'train.py'), SCRIPT);
  const sweep = path.join(dir, 'sweep.yaml');
  fs.writeFileSync(sweep, `name: bench\nprogram: train.py\nmethod: grid\nparameters:\n  seed: {values: [${Array.from({ length: args.runs }, (_, i) => i).join(', ')}]}\n`);
  const reference = await direct(dir, args.runs, args.slots);

  const db = path.join(dir, 'dlphys.db');
  const coord = await startCoordinator(['sweep', sweep, '--port', '0', '--db', db, '--runs-dir', path.join(dir, 'runs'), '--exit-when-done', '--no-dash']);
  const t0 = performance.now();
  const agent = startAgent(coord.address, ['--slots', String(args.slots), '--exit-when-idle', '--poll', '50']);
  const codes = await Promise.all([coord.exited, agent.exited]);
  const wall = performance.now() - t0;
  if (codes.some((c) => c !== 0)) throw new Error(`a process failed (${codes.join(', ')})\n${coord.log()}\n${agent.log()}`);
  const attempts = query<{ leased_at: number; ended_at: number; summary_json: string }>(
    db,
    "SELECT a.leased_at, a.ended_at, r.summary_json FROM attempts a JOIN runs r ON r.id = a.run_id WHERE a.outcome = 'completed'",
  );
  if (attempts.length !== args.runs) throw new Error(`${attempts.length} of ${args.runs} runs completed\n${coord.log()}`);
  const program = attempts.map((a) => (JSON.parse(a.summary_json) as { wall_time: number }).wall_time * 1000);
  const leaseToEnd = attempts.map((a) => a.ended_at - a.leased_at);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const rows = await query<{ n: number }>(db, 'SELECT count(*) AS n FROM metrics');
  const figures = {
    runs: args.runs,
    slots: args.slots,
    direct_wall_s: reference / 1000,
    dlphys_wall_s: wall / 1000,
    throughput_vs_direct: reference / wall,
    // From the first lease to the last report: the agent's own start-up left out.
    dlphys_span_s: (Math.max(...attempts.map((a) => a.ended_at)) - Math.min(...attempts.map((a) => a.leased_at))) / 1000,
    throughput_vs_direct_running: reference / (Math.max(...attempts.map((a) => a.ended_at)) - Math.min(...attempts.map((a) => a.leased_at))),
    program_ms_mean: mean(program),
    lease_to_report_ms_mean: mean(leaseToEnd),
    overhead_ms_per_run: mean(leaseToEnd) - mean(program),
    metric_rows_stored: rows[0]!.n,
  };
  console.log(textTable([Object.keys(figures), Object.values(figures).map((v) => (Number.isInteger(v) ? String(v) : v.toFixed(3)))]).join('\n'));
  console.log(JSON.stringify({ bench: 'programs', ...figures }));
}

await main();
