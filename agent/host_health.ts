/**
 * The host's load, as each heartbeat carries it (HeartbeatRequest.health): CPU from /proc/stat
 * deltas, RAM from /proc/meminfo, GPUs from nvidia-smi where it exists. A heartbeat renews the
 * agent's leases, so nothing here may fail or delay it: every reading falls back to what is
 * available (os.* where there is no /proc, no GPUs where nvidia-smi is absent or failing), and
 * nvidia-smi (which can take seconds, or hang on a wedged driver) runs in the background with a
 * timeout, a heartbeat sending the GPUs of the last query that finished.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { boundHealth, type GpuHealthData, type HostHealthData } from '../proto/host_health.js';

/** The arguments of the one nvidia-smi query: one CSV line per GPU, MiB and percent without units. */
export const NVIDIA_SMI_ARGS = ['--query-gpu=index,name,utilization.gpu,memory.used,memory.total', '--format=csv,noheader,nounits'];

const MiB = 1024 * 1024;

/** Jiffies of all cores since boot: `busy` (everything but idle and iowait) and `total`. */
export interface CpuTimes {
  busy: number;
  total: number;
}

/**
 * The aggregate `cpu` line of /proc/stat: user nice system idle iowait irq softirq steal (guest
 * and guest_nice are already counted in user and nice, so they are left out). Null when the
 * text has no such line.
 */
export function parseProcStat(text: string): CpuTimes | null {
  const line = /^cpu\s+([\d\s]+)$/m.exec(text);
  if (!line) return null;
  const f = line[1]!.trim().split(/\s+/).map(Number);
  if (f.length < 4 || f.some((n) => !Number.isFinite(n))) return null;
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
  const total = user + nice + system + idle + iowait + irq + softirq + steal;
  return { busy: total - idle - iowait, total };
}

/** Busy share of all cores between two readings, 0..100 (0 when no time passed between them). */
export function cpuPercent(before: CpuTimes, after: CpuTimes): number {
  const total = after.total - before.total;
  if (total <= 0) return 0;
  return Math.min(100, Math.max(0, (100 * (after.busy - before.busy)) / total));
}

/**
 * RAM from /proc/meminfo, in bytes: used = MemTotal - MemAvailable (what the kernel could not
 * hand a new process without swapping; page cache counts as available). Kernels before 3.14 have
 * no MemAvailable: MemFree + Buffers + Cached stands in. Null without MemTotal.
 */
export function parseMeminfo(text: string): { usedBytes: number; totalBytes: number } | null {
  const kb = (key: string): number | undefined => {
    const m = new RegExp(`^${key}:\\s+(\\d+)\\s*kB`, 'm').exec(text);
    return m ? Number(m[1]) * 1024 : undefined;
  };
  const total = kb('MemTotal');
  if (total === undefined) return null;
  const available = kb('MemAvailable') ?? (kb('MemFree') ?? 0) + (kb('Buffers') ?? 0) + (kb('Cached') ?? 0);
  return { usedBytes: Math.max(0, total - available), totalBytes: total };
}

/**
 * The output of `nvidia-smi` with {@link NVIDIA_SMI_ARGS}, one GPU a line:
 * `0, NVIDIA A100-SXM4-80GB, 96, 67542, 81920` (index, name, util %, used MiB, total MiB).
 * Memory comes out in bytes. A value nvidia-smi cannot read (`[N/A]`, `[Not Supported]`, as
 * under MIG) comes out as 0; lines that are not GPUs (a warning, say) are skipped. The name is
 * taken as everything between the first and the last three fields, so a comma in it is kept.
 */
export function parseNvidiaSmi(text: string): GpuHealthData[] {
  const gpus: GpuHealthData[] = [];
  for (const raw of text.split('\n')) {
    const fields = raw.split(',').map((f) => f.trim());
    if (fields.length < 5 || !/^\d+$/.test(fields[0]!)) continue;
    const num = (s: string) => (/^\d+(\.\d+)?$/.test(s) ? Number(s) : 0);
    const [util, used, total] = fields.slice(-3) as [string, string, string];
    gpus.push({
      index: Number(fields[0]),
      name: fields.slice(1, -3).join(', '),
      util_percent: num(util),
      mem_used_bytes: num(used) * MiB,
      mem_total_bytes: num(total) * MiB,
    });
  }
  return gpus;
}

/** An executable named `name` in one of PATH's folders, or null. */
export function findOnPath(name: string, envPath = process.env.PATH ?? ''): string | null {
  for (const dir of envPath.split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return file;
    } catch {
      // Not here.
    }
  }
  return null;
}

export interface HostHealthOptions {
  /** Where /proc is (tests point it at fixtures). @default '/proc' */
  procDir?: string;
  /** The nvidia-smi to run; null: none on this host. @default the one on PATH, looked up once */
  nvidiaSmi?: string | null;
  /** A query that has not answered by then is killed (and counts as failed). @default 5000 */
  gpuTimeoutMs?: number;
  /** After a failed query, nvidia-smi is not run again for this long. @default 60000 */
  gpuRetryMs?: number;
  /** Told (once per stretch of failures) when nvidia-smi fails, and when it answers again. */
  log?: (line: string) => void;
  now?: () => number;
}

/**
 * Reads the host's health for the agent's heartbeats. `start()` takes the CPU baseline and asks
 * nvidia-smi once; each `read()` gives CPU since the previous read, RAM now, and the GPUs of the
 * last nvidia-smi query that succeeded (and starts the next one). A host without nvidia-smi on
 * PATH is found out once and never spawns it; a failing one is asked again every gpuRetryMs.
 */
export class HostHealthMonitor {
  private readonly procDir: string;
  private readonly nvidiaSmi: string | null;
  private readonly gpuTimeoutMs: number;
  private readonly gpuRetryMs: number;
  private readonly now: () => number;
  private cpuBefore: CpuTimes | null = null;
  private gpus: GpuHealthData[] = [];
  private query: Promise<void> | null = null;
  private gpuRetryAt = 0;
  private gpuFailing = false;
  /** Set when spawning found no nvidia-smi after all (removed since the lookup). */
  private gpuAbsent = false;

  constructor(private readonly opts: HostHealthOptions = {}) {
    this.procDir = opts.procDir ?? '/proc';
    this.nvidiaSmi = opts.nvidiaSmi === undefined ? findOnPath('nvidia-smi') : opts.nvidiaSmi;
    this.gpuTimeoutMs = opts.gpuTimeoutMs ?? 5000;
    this.gpuRetryMs = opts.gpuRetryMs ?? 60_000;
    this.now = opts.now ?? Date.now;
  }

  /** Whether GPUs are read at all (an nvidia-smi was found). */
  get hasNvidiaSmi(): boolean {
    return this.nvidiaSmi !== null && !this.gpuAbsent;
  }

  /** Takes the CPU baseline the first read is measured from, and starts the first GPU query. */
  async start(): Promise<void> {
    this.cpuBefore = await this.cpuTimes();
    this.refreshGpus();
  }

  /** The host's health now, within the contract's bounds. Never rejects; resolves without waiting on nvidia-smi. */
  async read(): Promise<HostHealthData> {
    const [cpu, ram] = await Promise.all([this.cpuNow(), this.ram()]);
    this.refreshGpus();
    return boundHealth({ cpu_percent: cpu, ram_used_bytes: ram.used, ram_total_bytes: ram.total, gpus: this.gpus, collected_at: new Date(this.now()).toISOString() });
  }

  /** Resolves once the GPU query in flight (if any) has ended: for tests. */
  async settled(): Promise<void> {
    await this.query;
  }

  private async cpuTimes(): Promise<CpuTimes | null> {
    try {
      return parseProcStat(await readFile(path.join(this.procDir, 'stat'), 'utf8'));
    } catch {
      return null;
    }
  }

  private async cpuNow(): Promise<number> {
    const times = await this.cpuTimes();
    if (!times) {
      // No /proc (macOS, say): the 1-minute load average over the cores is the nearest measure.
      return (100 * (os.loadavg()[0] ?? 0)) / Math.max(1, os.availableParallelism());
    }
    const before = this.cpuBefore;
    this.cpuBefore = times;
    return before ? cpuPercent(before, times) : 0;
  }

  private async ram(): Promise<{ used: number; total: number }> {
    try {
      const m = parseMeminfo(await readFile(path.join(this.procDir, 'meminfo'), 'utf8'));
      if (m) return { used: m.usedBytes, total: m.totalBytes };
    } catch {
      // No /proc: os knows the totals (its "free" leaves out the page cache, so used reads high).
    }
    return { used: os.totalmem() - os.freemem(), total: os.totalmem() };
  }

  /** Starts a GPU query unless one is in flight, there is no nvidia-smi, or the last failed too recently. */
  private refreshGpus(): void {
    if (this.query || !this.hasNvidiaSmi || this.now() < this.gpuRetryAt) return;
    this.query = this.runNvidiaSmi().finally(() => {
      this.query = null;
    });
  }

  private runNvidiaSmi(): Promise<void> {
    return new Promise((resolve) => {
      let timedOut = false;
      const child = execFile(this.nvidiaSmi!, NVIDIA_SMI_ARGS, { maxBuffer: 1024 * 1024, windowsHide: true }, (err, stdout) => {
        clearTimeout(timer);
        if (timedOut) {
          // Counted as failed when the time ran out; it ended only now (a wedged driver can hold
          // it in the kernel past SIGKILL). No other query was started meanwhile.
        } else if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
          this.gpuAbsent = true;
          this.gpus = [];
        } else if (err) {
          this.failed(err.message.split('\n')[0]!);
        } else {
          this.gpus = parseNvidiaSmi(stdout);
          if (this.gpuFailing) this.opts.log?.('nvidia-smi answers again: GPU health is back in the heartbeats');
          this.gpuFailing = false;
        }
        resolve();
      });
      const timer = setTimeout(() => {
        timedOut = true;
        this.failed(`no answer within ${this.gpuTimeoutMs} ms`);
        child.kill('SIGKILL');
      }, this.gpuTimeoutMs);
      // A query in flight must not keep an exiting agent alive.
      timer.unref();
    });
  }

  private failed(why: string): void {
    // Stale GPU numbers would look live on the dashboard: none rather than old ones.
    this.gpus = [];
    this.gpuRetryAt = this.now() + this.gpuRetryMs;
    if (!this.gpuFailing) this.opts.log?.(`nvidia-smi failed (${why}): heartbeats carry no GPU health; trying again every ${Math.round(this.gpuRetryMs / 1000)} s`);
    this.gpuFailing = true;
  }
}
