import type { Connection } from '../proto/client.js';
import type { ReusePolicy } from './launch/reuse_policy.js';

/** What an agent is started with (agent/cli.ts builds it from the command line). */
export interface AgentOptions {
  conn: Connection;
  /** GPU ids each slot is pinned to, round-robin (empty: CPU only). */
  gpus: string[];
  slots: number;
  workDir: string;
  /** Backend the runner children use: node-gpu when GPUs were asked for, else auto. */
  backend: string;
  exitWhenIdle: boolean;
  /** Seconds between uploads of a running run's folder (0: only at the end). */
  uploadEverySec: number;
  /** How long to wait before asking again when the queue was empty. @default 1000 */
  pollMs?: number;
  /**
   * When a runner process trains another run (launch/reuse_policy.ts): by default one process
   * trains up to 50 runs in turn, replaced sooner after a failed run, a leak or an hour;
   * maxRuns 1 gives every run a fresh process.
   * @default DEFAULT_REUSE
   */
  reuse?: ReusePolicy;
  /**
   * How long the coordinator may stay unreachable while the agent has nothing to do (at start,
   * or idle between runs) before the agent gives up and exits with an error; 0: never.
   * @default 0
   */
  connectTimeoutMs?: number;
  /**
   * No tensor backend for dlphys's own runs (a GPU host without tfjs-node-gpu): the agent leases
   * only program sweeps' runs, and its runner children load no backend.
   */
  programsOnly?: boolean;
  /** The interpreter of program runs (agent/program_host.ts resolveInterpreter). */
  interpreter: string;
  /** No interpreter here: the agent leases only dlphys's own runs. */
  nativeOnly?: boolean;
  /** --wandb-shim: program runs use the shim even where the real wandb is installed. */
  wandbShim?: boolean;
  /**
   * --drain-grace: on a drain, runs whose pace says they end within (most of) this many seconds
   * train on to their end; the others stop and go back at once (drain.ts).
   * @default 0
   */
  drainGraceSec?: number;
  /** Called at every heartbeat tick (the agent keeps its work-dir lock fresh with it). */
  onHeartbeat?: () => void;
  log: (line: string) => void;
}
