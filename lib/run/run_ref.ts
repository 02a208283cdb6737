/**
 * One attempt of one run, as the store, the agent and the upload code name it. It lives in lib/
 * because both the coordinator's store (which must not know the wire) and the agent use it;
 * proto/run_ref.ts turns it into the contract's RunRef message and back.
 */

/** One attempt of one run; runId is "<sweep>/<run name>", also the run folder's path under a runs dir. */
export interface RunRef {
  runId: string;
  /** 1 for the first lease of the run, one more at each lease after that. */
  attempt: number;
}

/** A string that identifies the attempt, for maps keyed by run reference ("<runId>#<attempt>"). */
export function runRefKey(ref: RunRef): string {
  return `${ref.runId}#${ref.attempt}`;
}
