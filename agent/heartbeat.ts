import type { HostHealth } from '../proto/generated/dlphys/HostHealth.js';
import { unary, type Connection } from '../proto/client.js';
import { describeCallError, isDefiniteRefusal } from '../proto/errors.js';
import { fromWireRef, runRefKey, toWireRef } from '../proto/run_ref.js';
import type { RunTask } from './run_task.js';

/**
 * One heartbeat of an agent: renews the leases of its `tasks` and applies what the reply says of
 * them (a user's cancel, an early-termination stop, an attempt lost to another agent). Never
 * throws: a refusal is logged, anything else waits for the next beat while training goes on.
 * The deadline is 3 periods: the leases it renews expire only then, and on a loaded machine a
 * deadline of one period would let leases lapse that were never in danger.
 */
export async function beat(opts: {
  conn: Connection;
  agentId: string;
  tasks: RunTask[];
  health: HostHealth;
  periodMs: number;
  log: (line: string) => void;
  /** A run was cancelled or early-stopped: one that has not started (leased ahead) goes back at once. */
  stopped?: (task: RunTask) => void;
}): Promise<void> {
  const { conn, tasks } = opts;
  try {
    const reply = await unary(conn, 'Heartbeat', { agent_id: opts.agentId, runs: tasks.map((t) => toWireRef(t.ref)), health: opts.health }, 3 * opts.periodMs);
    const byKey = new Map(tasks.map((t) => [runRefKey(t.ref), t]));
    const stopped = (task: RunTask | undefined) => task && opts.stopped?.(task);
    for (const ref of reply.cancel) {
      const task = byKey.get(runRefKey(fromWireRef(ref)));
      task?.cancel();
      stopped(task);
    }
    for (const stop of reply.early_stop) {
      const task = byKey.get(runRefKey(fromWireRef(stop.run!)));
      task?.earlyStop(stop.reason);
      stopped(task);
    }
    for (const ref of reply.lost) byKey.get(runRefKey(fromWireRef(ref)))?.markLost();
  } catch (err) {
    if (isDefiniteRefusal(err)) opts.log(`heartbeat: ${describeCallError(conn.address, err)}`);
  }
}
