import path from 'node:path';
import { writeFileAtomic } from '../write_file_atomic.js';
import { buildReport, type ReportOptions } from './report.js';

/**
 * Builds the report for the run folders under `dir` and writes it to `out` (default
 * `dir/report.html`), whole or not at all: a temp file beside it, then a rename, so a browser or a
 * coordinator rewriting it mid-sweep never sees half a page. Throws buildReport's UsageErrors (no
 * run folders: nothing is written) and a UsageError when `out` cannot be written.
 */
export async function writeReport(dir: string, out: string = defaultReportPath(dir), options: ReportOptions = {}): Promise<{ runs: number; plots: number }> {
  const { html, runs, plots } = await buildReport(dir, options);
  writeFileAtomic(out, html, 'check the folder exists and is writable, or give --out FILE');
  return { runs, plots };
}

/** Where a report goes unless told: beside the run folders it describes. */
export function defaultReportPath(dir: string): string {
  return path.join(dir, 'report.html');
}
