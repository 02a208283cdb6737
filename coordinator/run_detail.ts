/**
 * RunDetail: one run in full for the dashboard's detail view. The store gives the run's status
 * row, its config and the current attempt's metric lines; the log tail comes from the landed run
 * folder, read from the end of its train.log.
 */
import path from 'node:path';
import { tailLines } from '../lib/run/log_tail.js';
import type { RunDetailReply } from '../proto/generated/dlphys/RunDetailReply.js';
import type { RunDetailRequest__Output } from '../proto/generated/dlphys/RunDetailRequest.js';
import { MAX_LOG_TAIL_LINES } from './bounds.js';
import { runToWire } from './status_wire.js';
import type { Store } from './store/index.js';

/**
 * Metric lines a reply holds at most: the newest of a longer run (100,000 lines of a run logging
 * every 10 steps is a million steps). A dashboard draws a few hundred points per chart anyway.
 */
export const RUN_DETAIL_MAX_METRIC_LINES = 100_000;
/**
 * Bytes of metric lines a reply holds at most: far under the 64 MiB a message may have on either
 * side (proto/client.ts, server.ts), with room for the config and the log tail beside them.
 */
export const RUN_DETAIL_MAX_METRIC_BYTES = 32 * 1024 * 1024;
/** Bytes read from the end of train.log at most: 1000 lines of 1 KiB. */
export const RUN_DETAIL_MAX_LOG_BYTES = 1024 * 1024;

/**
 * The RunDetail reply for a request whose bounds were checked: NotFoundError (NOT_FOUND) for an
 * unknown run. log_tail is the last `log_lines` lines of `<runsDir>/<sweep>/<run>/train.log`,
 * the folder as it last landed (a periodic upload of a running run, or the finished run's; for a
 * run queued again, its earlier attempt's); empty before any upload of the run landed.
 */
export async function runDetail(store: Store, runsDir: string, req: RunDetailRequest__Output): Promise<RunDetailReply> {
  const detail = store.runDetail(req.run_id, RUN_DETAIL_MAX_METRIC_LINES, RUN_DETAIL_MAX_METRIC_BYTES);
  const run = detail.run;
  // Sweep and run names are folder names (bounds.ts isValidName): they cannot leave the runs dir.
  const logFile = path.join(runsDir, run.sweep, run.name, 'train.log');
  const logTail = await tailLines(logFile, Math.min(req.log_lines, MAX_LOG_TAIL_LINES), RUN_DETAIL_MAX_LOG_BYTES);
  return { run: runToWire(run), config_json: detail.configJson, metric_lines: detail.metricLines, log_tail: logTail };
}
