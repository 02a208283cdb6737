/**
 * The run states and the one table of how a run moves between them. Runs go
 * queued -> leased -> running -> completed | diverged | failed | cancelled | early_stopped; lifecycle.ts looks
 * every move up here (nextState) instead of deciding it in place.
 */
import { ACTIVE_STATES, HELD_STATES, RUN_STATES, TERMINAL_STATES, type RunState } from '../run_states.js';
import type { ReportStatus } from './types.js';

export { ACTIVE_STATES, HELD_STATES, RUN_STATES, TERMINAL_STATES, type RunState };

/**
 * What happens to a run: an agent leases or starts it, reports it (by its report status), loses
 * it (its lease expired), or a user cancels or retries it.
 */
export type RunEvent = 'lease' | 'start' | ReportStatus | 'lost' | 'cancel' | 'retry';

/**
 * Where a transition takes the run. 'cancel_requested' is not a state: the run stays where it is,
 * flagged, and its agent learns at its next heartbeat to stop it and report.
 */
export type Target = RunState | 'cancel_requested';

export interface Transition {
  on: RunEvent;
  from: readonly RunState[];
  /** Only when a user has (true) or has not (false) asked to cancel the run; either when absent. */
  cancelRequested?: boolean;
  /** Only when the run has been lost max_attempts times since its last retry (true) or not (false). */
  outOfAttempts?: boolean;
  /** Only when early termination has asked the run to stop (true) or not (false). */
  earlyStop?: boolean;
  to: Target;
}

const HELD = HELD_STATES;

/**
 * Every move a run makes. The first row that matches the event, the run's state and the facts
 * given wins; no matching row means the event does not move the run (the caller refuses or skips).
 */
export const TRANSITIONS: readonly Transition[] = [
  { on: 'lease', from: ['queued'], to: 'leased' },
  { on: 'start', from: ['leased'], to: 'running' },
  // Reports (finishRun); a report needs the attempt held, which the fencing checks first.
  // A run early termination stopped ends early_stopped however its agent ended it; a run that
  // completed or failed before the stop reached it ends as it did.
  { on: 'stopped', from: HELD, earlyStop: true, to: 'early_stopped' },
  { on: 'handback', from: HELD, earlyStop: true, to: 'early_stopped' },
  { on: 'lost', from: HELD, earlyStop: true, to: 'early_stopped' },
  { on: 'completed', from: HELD, to: 'completed' },
  { on: 'stopped', from: HELD, cancelRequested: true, to: 'cancelled' },
  { on: 'stopped', from: HELD, to: 'completed' }, // a callback stopped it
  { on: 'diverged', from: HELD, to: 'diverged' },
  { on: 'failed', from: HELD, to: 'failed' }, // its own error: not retried
  { on: 'handback', from: HELD, cancelRequested: true, to: 'cancelled' },
  { on: 'handback', from: HELD, to: 'queued' }, // not counted as lost
  // A lease expired (expireLeases).
  { on: 'lost', from: HELD, cancelRequested: true, to: 'cancelled' },
  { on: 'lost', from: HELD, outOfAttempts: true, to: 'failed' },
  { on: 'lost', from: HELD, to: 'queued' },
  // Users.
  { on: 'cancel', from: ['queued'], to: 'cancelled' },
  { on: 'cancel', from: HELD, cancelRequested: false, to: 'cancel_requested' },
  { on: 'retry', from: ['failed', 'cancelled'], to: 'queued' },
];

export interface Facts {
  cancelRequested?: boolean;
  outOfAttempts?: boolean;
  earlyStop?: boolean;
}

/** Where `on` takes a run in state `from`, given the facts; null when it does not move it. */
export function nextState(on: RunEvent, from: RunState, facts: Facts = {}): Target | null {
  for (const t of TRANSITIONS) {
    if (t.on !== on || !t.from.includes(from)) continue;
    if (t.cancelRequested !== undefined && t.cancelRequested !== (facts.cancelRequested ?? false)) continue;
    if (t.outOfAttempts !== undefined && t.outOfAttempts !== (facts.outOfAttempts ?? false)) continue;
    if (t.earlyStop !== undefined && t.earlyStop !== (facts.earlyStop ?? false)) continue;
    return t.to;
  }
  return null;
}

const TERMINAL = new Set<string>(TERMINAL_STATES);

/** True for a state a run does not leave by itself. */
export function isTerminal(state: string): boolean {
  return TERMINAL.has(state);
}

/** True while an agent holds the run's current attempt. */
export function isHeld(state: string): boolean {
  return (HELD_STATES as readonly string[]).includes(state);
}
