/**
 * Chaos soak of the sweep orchestrator, with real processes on 127.0.0.1: a coordinator whose
 * runs dir is a small tmpfs, 4 one-slot agents (two of them share one --work-dir), and on a seeded
 * schedule: kill -9 of an agent (a new one takes its place), kill -9 of the coordinator (started
 * again with `dlphys-coord serve` on the same --db, --runs-dir and port), an agent that flaps
 * (SIGSTOP for longer than the lease TTL, then SIGCONT, again and again), and the runs dir filled
 * up for a while midway, then freed. Then everything is left alone until every run has ended (or a
 * deadline), and the database and the landed folders are checked against each other:
 *
 *   completed+landed  state completed, one completed attempt, and <runs-dir>/<run>/ holds config.json,
 *                     metrics.jsonl and summary.json, metrics.jsonl being exactly the metric rows of
 *                     the run's final attempt and summary.json the summary the database recorded;
 *   lost              trained to the end but not landed whole (completed without its folder, or
 *                     failed because its upload was refused), or failed because it was lost
 *                     --max-attempts times;
 *   duplicated        more than one completed attempt, metric rows of one attempt with the same seq
 *                     or the same line twice, or a landed folder that disagrees with the database.
 *
 * Usage: npm run bench:chaos [-- --runs 60 --seconds 240 --seed 1 --steps 2000 --agents 4 --logs DIR]
 * (the defaults take about 5 minutes on 2 busy cores: faults stop early once every run has ended,
 * so --runs should keep the agents busy for --seconds). Prints the schedule, what happened, a
 * table of the runs and one JSON line; --logs DIR keeps every process's log. Needs root for the
 * tmpfs (without it the disk-full fault is skipped, and it says so). Ctrl-C stops every process,
 * unmounts the tmpfs and removes the temp dir. test/chaos.test.ts runs a short one (DLPHYS_CHAOS=1).
 *
 * This file is the command line and the soak's public face (test/chaos.test.ts imports it); the
 * parts: run.ts (one soak, start to end), workspace.ts (temp dir, tmpfs, what the database says),
 * proc.ts and processes.ts (the coordinator and agent processes), schedule.ts and faults.ts (the
 * seeded faults and their injection), analyse.ts (the end-of-run checks), report.ts (table, JSON).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { scriptArgs } from '../../lib/cli/flags.js';
import { formatResult, resultJson } from './report.js';
import { runChaos } from './run.js';

export { formatResult, resultJson } from './report.js';
export { runChaos } from './run.js';
export { schedule } from './schedule.js';
export type { ChaosOptions, ChaosResult, RunReport, Verdict } from './types.js';

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = scriptArgs(
    { runs: 60, seconds: 240, seed: 1, steps: 2000, agents: 4, 'lease-ttl': 3, 'max-attempts': 25, 'drain-seconds': 180 },
    ['logs'],
  );
  const result = await runChaos({
    runs: args.runs,
    seconds: args.seconds,
    seed: args.seed,
    steps: args.steps,
    agents: args.agents,
    leaseTtl: args['lease-ttl'],
    maxAttempts: args['max-attempts'],
    drainSeconds: args['drain-seconds'],
    ...(args.logs ? { logsDir: path.resolve(args.logs) } : {}),
  });
  console.log('\n' + formatResult(result));
  console.log(resultJson(result));
}
