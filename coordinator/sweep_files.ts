import fs from 'node:fs';
import path from 'node:path';
import { writeReport } from '../lib/report/write_report.js';
import type { Store } from './store/index.js';

/**
 * A sweep's own files beside its run folders, `<runs-dir>/<sweep>/`: `sweep.json`, the sweep as
 * recorded (base inlined, a program sweep's code hash), so a folder of runs says what made it; and,
 * with --report, `report.html` each time the sweep finishes.
 */

/** The sweep's spec as `<runs-dir>/<sweep>/sweep.json`, written whole (temp + rename). A failure is logged, never thrown: recording the sweep has succeeded. */
export function writeSweepSpec(runsDir: string, sweep: { name: string; spec: Record<string, unknown> }, log: (line: string) => void): void {
  const file = path.join(runsDir, sweep.name, 'sweep.json');
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(tmp, JSON.stringify(sweep.spec, null, 2) + '\n');
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    log(`warning: sweep ${sweep.name}: cannot write ${file}: ${(err as Error).message}`);
  }
}

/**
 * Writes `<runs-dir>/<sweep>/report.html` (lib/report) when a sweep finishes: on the change from
 * unfinished to finished seen by check(), so a retried sweep gets a new report when it finishes
 * again; at start, for finished sweeps that have none (a coordinator stopped before writing it).
 * Reports are written one at a time, off the event that noticed them; drain() waits for them.
 */
export class SweepReports {
  private readonly done = new Map<string, boolean>();
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: Store,
    private readonly runsDir: string,
    private readonly log: (line: string) => void,
  ) {
    for (const name of this.sweeps()) {
      const finished = this.store.sweepDone(name);
      this.done.set(name, finished);
      if (finished && !fs.existsSync(this.reportFile(name))) this.enqueue(name);
    }
  }

  /** Checks within half a second; many events in a burst cost one look. */
  schedule(): void {
    this.timer ??= setTimeout(() => this.check(), 500);
  }

  /** Queues a report for each sweep that has finished since the last check. */
  check(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const name of this.sweeps()) {
      const finished = this.store.sweepDone(name);
      if (finished && this.done.get(name) !== true) this.enqueue(name);
      this.done.set(name, finished);
    }
  }

  /** Resolves once every queued report is written (or has failed with a warning). */
  async drain(): Promise<void> {
    this.check();
    await this.chain;
  }

  private sweeps(): string[] {
    return this.store.status().sweeps.map((s) => s.name);
  }

  private reportFile(name: string): string {
    return path.join(this.runsDir, name, 'report.html');
  }

  private enqueue(name: string): void {
    this.chain = this.chain.then(async () => {
      const out = this.reportFile(name);
      try {
        const { runs, plots } = await writeReport(path.join(this.runsDir, name), out, {});
        this.log(`sweep ${name}: report written to ${out} (${runs} runs, ${plots} plots)`);
      } catch (err) {
        this.log(`warning: sweep ${name}: cannot write its report: ${(err as Error).message}`);
      }
    });
  }
}
