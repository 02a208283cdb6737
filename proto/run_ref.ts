/**
 * The run reference (lib/run/run_ref.ts) on the wire: the contract's RunRef message has snake_case
 * fields, and a message field that was not sent arrives as null. Converted here, once, for the
 * coordinator's handlers and the agent.
 */
import { runRefKey, type RunRef } from '../lib/run/run_ref.js';
import type { RunRef__Output as WireRunRef } from './generated/dlphys/RunRef.js';

export { runRefKey, type RunRef, type WireRunRef };

/** The RunRef message for `ref`. */
export function toWireRef(ref: RunRef): WireRunRef {
  return { run_id: ref.runId, attempt: ref.attempt };
}

/**
 * The run reference a message carries; a missing message or field becomes '' or 0, which the
 * store refuses with INVALID_ARGUMENT (coordinator/store/core.ts requireRef).
 */
export function fromWireRef(ref: WireRunRef | null | undefined): RunRef {
  return { runId: ref?.run_id ?? '', attempt: ref?.attempt ?? 0 };
}
