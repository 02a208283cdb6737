/** A DashSink that keeps everything a source sent, for the source tests to wait on and inspect. */
import type { ConnectionState, DashEvent, DashSink, StatusSnapshot } from '../tui/source.js';

export interface Recorded {
  readonly sink: DashSink;
  readonly statuses: StatusSnapshot[];
  readonly events: DashEvent[];
  readonly connections: ConnectionState[];
  /** The latest snapshot (undefined before the first). */
  last(): StatusSnapshot | undefined;
  /** The parsed data_json of the events of `type` (of `runId` when given). */
  data(type: string, runId?: string): Record<string, unknown>[];
}

export function recordingSink(): Recorded {
  const statuses: StatusSnapshot[] = [];
  const events: DashEvent[] = [];
  const connections: ConnectionState[] = [];
  return {
    sink: {
      status: (s) => statuses.push(s),
      events: (e) => events.push(...e),
      connection: (c) => connections.push(c),
    },
    statuses,
    events,
    connections,
    last: () => statuses.at(-1),
    data: (type, runId) =>
      events.filter((e) => e.type === type && (runId === undefined || e.run_id === runId)).map((e) => JSON.parse(e.data_json) as Record<string, unknown>),
  };
}
