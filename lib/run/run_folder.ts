import fs from 'node:fs';
import path from 'node:path';
import { RUN_NAME } from '../config.js';
import { UsageError } from '../errors.js';
import { stamp } from '../log.js';
import type { FitSink } from '../training/trainer.js';

/** summary.json, as scan and the coordinator read it. */
export interface RunSummary {
  name: string;
  status: 'completed' | 'diverged' | 'stopped' | 'early_stopped' | 'failed';
  reason: string | null;
  steps: number;
  final: Record<string, number>;
  best: Record<string, number>;
  wall_time: number;
  /** Seconds each callback spent in its hooks (probes included), by callback name. */
  callback_time: Record<string, number>;
  error: string | null;
  started_at: string;
  ended_at: string;
}

/**
 * Checks that a run folder can be created at `runsDir/name`, without creating anything, so a
 * run that would fail here fails before any model is built or file written.
 */
export function checkRunDir(runsDir: string, name: string, overwrite: boolean): string {
  // The name becomes a folder that --overwrite may delete: it must be one plain path segment.
  if (!RUN_NAME.test(name)) {
    throw new UsageError(`run name ${JSON.stringify(name)} is not a plain folder name; use letters, digits and . _ = , + - (set it with --name)`);
  }
  const dir = path.resolve(runsDir, name);
  if (path.dirname(dir) !== path.resolve(runsDir)) throw new UsageError(`run name ${JSON.stringify(name)} leaves the runs dir; use --name with a plain folder name`);
  if (fs.existsSync(dir) && !overwrite) {
    throw new UsageError(`run folder ${path.relative(process.cwd(), dir) || dir} already exists; pass --overwrite to replace it or --name to choose another name`);
  }
  // The nearest existing ancestor must be a writable directory. An ancestor can vanish between the
  // look and the check (another process pruning an empty folder): then look again.
  for (let attempt = 0; ; attempt++) {
    let probe = path.resolve(runsDir);
    while (!fs.existsSync(probe)) probe = path.dirname(probe);
    try {
      if (!fs.statSync(probe).isDirectory()) throw new UsageError(`runs dir ${runsDir}: ${probe} is a file, not a directory (choose another --runs-dir)`);
      fs.accessSync(probe, fs.constants.W_OK);
      break;
    } catch (err) {
      if (err instanceof UsageError) throw err;
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && attempt < 10) continue;
      throw new UsageError(`runs dir ${runsDir} is not writable (${probe}); choose another with --runs-dir`);
    }
  }
  return dir;
}

/**
 * One run's folder: config.json written once, train.log and metrics.jsonl appended line by line
 * (each line reaches the OS before the call returns, so a crash loses at most the line being
 * written), summary.json replaced atomically (temp file, then rename).
 */
export class RunFolder implements FitSink {
  private readonly metricsFd: number;
  private readonly logFd: number;

  private constructor(
    readonly dir: string,
    private readonly onMetricsLine?: (line: string) => void,
  ) {
    this.metricsFd = fs.openSync(path.join(dir, 'metrics.jsonl'), 'a');
    this.logFd = fs.openSync(path.join(dir, 'train.log'), 'a');
  }

  /**
   * Creates the folder (replacing an old one when `overwrite`) and writes config.json before
   * anything else, so a folder that has metrics always says what produced them. Call
   * checkRunDir first.
   */
  static create(dir: string, options: { overwrite: boolean; config: object; onMetricsLine?: (line: string) => void }): RunFolder {
    if (options.overwrite) fs.rmSync(dir, { recursive: true, force: true });
    // One recursive mkdir, not "parent, then the folder": an agent removes the attempt folder a
    // finished run leaves empty (agent/run_task.ts), so the parent can vanish in between when
    // another run of the same sweep ends then; Node's recursive mkdir makes it again on ENOENT.
    let made: string | undefined;
    try {
      made = fs.mkdirSync(dir, { recursive: true });
    } catch (err) {
      throw new UsageError(`cannot create run folder ${dir}: ${(err as Error).message}`);
    }
    // It returns the first folder it made: none means the run folder was there already.
    if (made === undefined) throw new UsageError(`cannot create run folder ${dir}: it exists already`);
    writeJsonAtomic(path.join(dir, 'config.json'), options.config);
    return new RunFolder(dir, options.onMetricsLine);
  }

  metrics(record: Record<string, number | string>): void {
    const line = JSON.stringify(record, jsonNumber);
    fs.writeSync(this.metricsFd, line + '\n');
    this.onMetricsLine?.(line);
  }

  print(line: string): void {
    fs.writeSync(this.logFd, `${stamp('iso')} ${line}\n`);
  }

  writeSummary(summary: RunSummary): void {
    writeJsonAtomic(path.join(this.dir, 'summary.json'), summary);
  }

  close(): void {
    fs.closeSync(this.metricsFd);
    fs.closeSync(this.logFd);
  }
}

/** JSON has no NaN or Infinity; a diverged loss is written as the string "NaN" / "Infinity" rather than silently as null. */
function jsonNumber(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? String(value) : value;
}

export function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(value, jsonNumber, 2) + '\n');
  fs.renameSync(tmp, file);
}
