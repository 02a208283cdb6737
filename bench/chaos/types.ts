/**
 * The chaos soak's options and results, shared by its parts: what runChaos takes, what the end-of-run
 * checks (analyse.ts) find per run and in all, and what the report (report.ts) prints.
 */

export interface ChaosOptions {
  /** Runs in the sweep. @default 60 */
  runs?: number;
  /** How long faults are injected (they stop earlier when every run has ended). @default 240 */
  seconds?: number;
  seed?: number;
  /** Training steps of each run (2000: about 1.5 s of one core, more on a busy machine). @default 2000 */
  steps?: number;
  /** Agents, one slot each; the 2nd and 3rd share a --work-dir, the 3rd flaps. At least 3. @default 4 */
  agents?: number;
  /** --lease-ttl of the coordinator, seconds. @default 3 */
  leaseTtl?: number;
  /** --max-attempts of the coordinator. @default 25 */
  maxAttempts?: number;
  /** Size of the tmpfs runs dir, MiB. @default 32 */
  tmpfsMb?: number;
  /** After the faults, how long to wait for every run to end, seconds. @default 180 */
  drainSeconds?: number;
  /** Write every process's log here at the end (a folder; created). */
  logsDir?: string;
  log?: (line: string) => void;
}

export type Verdict = 'ok' | 'lost-not-landed' | 'lost-max-attempts' | 'failed-other' | 'unfinished' | 'other';

export interface RunReport {
  id: string;
  state: string;
  attempt: number;
  /** Outcome of every attempt, in order (null: still held). */
  outcomes: (string | null)[];
  lostAttempts: number;
  completedAttempts: number;
  /** Metric rows of the final attempt in the database. */
  metricRows: number;
  /** Lines of the landed metrics.jsonl (null: no such file). */
  landedLines: number | null;
  landed: 'whole' | 'missing' | 'partial';
  verdict: Verdict;
  duplicated: boolean;
  /** What is wrong with the run, one phrase each. */
  problems: string[];
  error: string | null;
}

export interface ChaosResult {
  seed: number;
  runs: number;
  seconds: number;
  completedLanded: number;
  /** Runs whose state is completed, whatever their folder. */
  completed: number;
  /** Completed runs whose folder is not whole or does not match the database. */
  completedNotLandedWhole: number;
  lost: number;
  lostNotLanded: number;
  lostMaxAttempts: number;
  failedOther: number;
  unfinished: number;
  other: number;
  duplicated: number;
  attemptsLost: number;
  /** run id -> lost attempts, for runs that lost any. */
  attemptsLostPerRun: Record<string, number>;
  /** Errors the database recorded for runs that did not complete. */
  errors: Record<string, string>;
  coordPeakRssMb: number;
  faults: { agentKills: number; coordKills: number; flaps: number; diskFullSeconds: number; diskFault: 'done' | 'skipped' };
  /** Agents that exited without being killed (refused to start, crashed), with their last log line. */
  agentExits: string[];
  /** Folders and files under the runs dir that no completed run accounts for. */
  strays: string[];
  wallSeconds: number;
  reports: RunReport[];
}

/** The sweep's name: its runs land under <runs-dir>/chaos/. */
export const SWEEP = 'chaos';
