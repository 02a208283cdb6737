/**
 * Sizes a run's records may have on their way to the coordinator, said once for the agent (which
 * clips to them), the wire contract (proto/wire.ts) and the coordinator's request bounds and
 * store (coordinator/bounds.ts). No imports, so the store can name them without the wire.
 */

/** Longest metrics.jsonl line the coordinator stores, in UTF-8 bytes; agents send a stand-in for a longer one. */
export const MAX_METRIC_LINE_BYTES = 64 * 1024;

/** Longest `error` text of a run's report, in UTF-8 bytes; agents clip to it. */
export const MAX_ERROR_BYTES = 16 * 1024;
