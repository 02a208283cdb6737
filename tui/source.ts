/**
 * What a dashboard is fed, and the one seam between where data comes from and what is drawn.
 * The coordinator source (tui/sources/coordinator.ts) feeds it from Status and the Watch stream;
 * the folder source (tui/sources/folders.ts) derives the same from run folders or a database
 * file; tests feed a scripted one. Hooks (tui/hooks/) reduce what a source sends into the state
 * the components render; components never fetch.
 *
 * The messages are the contract's own (proto/dlphys.proto), so a source that is not the
 * coordinator speaks exactly what the coordinator would.
 */
import type { Event__Output } from '../proto/generated/dlphys/Event.js';
import type { RunDetailReply__Output } from '../proto/generated/dlphys/RunDetailReply.js';
import type { StatusReply__Output } from '../proto/generated/dlphys/StatusReply.js';

export type { Event__Output as DashEvent, RunDetailReply__Output as RunDetail, StatusReply__Output as StatusSnapshot };

/** Where the feed stands: 'live' once data flows, 'reconnecting' while the source is away. */
export type ConnectionState = { state: 'connecting' } | { state: 'live' } | { state: 'reconnecting'; reason: string };

/** What a source calls, in any order, as often as it has something new. */
export interface DashSink {
  /** A whole snapshot (sweeps, agents with their health, runs): it replaces the previous one. */
  status(snapshot: StatusReply__Output): void;
  /** Events in id order, each at most once across reconnects (a source resumes after the last id it delivered). */
  events(events: Event__Output[]): void;
  connection(state: ConnectionState): void;
}

/** A feed of sweeps, agents, runs and their events. */
export interface DashSource {
  /** A line naming what is watched ("coordinator 127.0.0.1:50051", "runs/"), for the header. */
  readonly label: string;
  /** Starts feeding `sink`; the returned function stops (closes streams, timers, files). */
  start(sink: DashSink): () => void;
  /** One run in full (config, every metric line, the tail of its log); rejects when it is unknown. */
  runDetail(runId: string, logLines: number): Promise<RunDetailReply__Output>;
}
