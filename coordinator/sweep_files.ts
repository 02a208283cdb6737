import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { packagePath } from '../lib/package_dir.js';
import type { Store } from './store/index.js';

/** A report that takes longer than this (a huge sweep, a hung disk) is given up, with a warning. */
const REPORT_TIMEOUT_MS = 10 * 60_000;

/**
 * A sweep's own files beside its run folders, `<runs-dir>/<sweep>/`: `sweep.json`, the sweep as
 * recorded (base inlined, a program sweep's code hash), so a folder of runs says what made it; and,
 * with --report, `report.html` each time the sweep finishes.
 */

/**
 * The sweep's spec as `<runs-dir>/<sweep>/sweep.json` (named as recorded, a --name included),
 * written whole (temp + rename). A failure is logged, never thrown: recording the sweep has succeeded.
 */
export function writeSweepSpec(runsDir: string, sweep: { name: string; spec: Record<string, unknown> }, log: (line: string) => void): void {
  const file = path.join(runsDir, sweep.name, 'sweep.json');
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(tmp, JSON.stringify({ ...sweep.spec, name: sweep.name }, null, 2) + '\n');
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    log(`warning: sweep ${sweep.name}: cannot write ${file}: ${(err as Error).message}`);
  }
}

/**
 * Writes `<runs-dir>/<sweep>/report.html` (`dlphys report`) when a sweep finishes: when check()
 * finds it finished with runs that ended since its last report (so a retried sweep gets a new
 * report when it finishes again, however fast); at start, for finished sweeps that have none (a
 * coordinator stopped before writing it). Each report is made by a `dlphys report` child process,
 * one at a time: reading every run folder and rendering the plots takes seconds for a large sweep,
 * which the coordinator's event loop (heartbeats, leases, uploads) cannot give. drain() waits for them.
 */
export class SweepReports {
  /** Per sweep, the latest end of a run the last report (or the start) saw. */
  private readonly seen = new Map<string, number | null>();
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: Store,
    private readonly runsDir: string,
    private readonly log: (line: string) => void,
  ) {
    for (const name of this.sweeps()) {
      this.seen.set(name, this.store.sweepLastEnded(name));
      if (this.store.sweepDone(name) && !fs.existsSync(this.reportFile(name))) this.enqueue(name);
    }
  }

  /** Checks within half a second; many events in a burst cost one look. */
  schedule(): void {
    this.timer ??= setTimeout(() => this.check(), 500);
  }

  /** Queues a report for each sweep that is finished and has had runs end since the last look. */
  check(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const name of this.sweeps()) {
      const ended = this.store.sweepLastEnded(name);
      if (ended === (this.seen.get(name) ?? null) || !this.store.sweepDone(name)) continue;
      this.seen.set(name, ended);
      this.enqueue(name);
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
      this.log(`sweep ${name}: writing its report`);
      const { ok, text } = await reportChild(path.join(this.runsDir, name), out);
      const counts = /\((\d+ runs?, \d+ plots?)\)/.exec(text)?.[1];
      if (ok) this.log(`sweep ${name}: report written to ${out}${counts ? ` (${counts})` : ''}`);
      else this.log(`warning: sweep ${name}: cannot write its report: ${text.trim().split('\n').at(-1) ?? 'dlphys report failed'}`);
    });
  }
}

/** `dlphys report DIR --out OUT` in a child process: whether it succeeded, and what it said. */
function reportChild(dir: string, out: string): Promise<{ ok: boolean; text: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [packagePath('bin', 'dlphys.js'), 'report', dir, '--out', out], { stdio: ['ignore', 'ignore', 'pipe'] });
    let text = '';
    child.stderr.on('data', (chunk: Buffer) => (text = (text + chunk.toString('utf8')).slice(-4096)));
    const timer = setTimeout(() => {
      text += `\ngave up after ${REPORT_TIMEOUT_MS / 60_000} minutes`;
      child.kill('SIGKILL');
    }, REPORT_TIMEOUT_MS);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ ok: false, text: err.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ ok: code === 0, text });
    });
  });
}
