/**
 * The run states, said once: the store, the schema's migrations (which keep the list as it was
 * when each was written), status and the command-line clients read them from here. No imports,
 * so a client command loads nothing of the store to name them.
 */

/** The run states, in the order a run goes through them. */
export const RUN_STATES = ['queued', 'leased', 'running', 'completed', 'diverged', 'failed', 'cancelled', 'early_stopped'] as const;
export type RunState = (typeof RUN_STATES)[number];
/** States a run does not leave by itself (only `retry` takes failed/cancelled runs back; an early-stopped run is never retried). */
export const TERMINAL_STATES: readonly RunState[] = ['completed', 'diverged', 'failed', 'cancelled', 'early_stopped'];
/** States of a run that is not finished: in the queue or held by an agent. */
export const ACTIVE_STATES: readonly RunState[] = ['queued', 'leased', 'running'];
/** The states in which an attempt is held by an agent (its calls about the run are honoured). */
export const HELD_STATES: readonly RunState[] = ['leased', 'running'];

/** `('queued', 'leased', 'running')`: a state list for an SQL `IN`. */
export function sqlList(states: readonly RunState[]): string {
  return `(${states.map((s) => `'${s}'`).join(', ')})`;
}
