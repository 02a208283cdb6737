/**
 * The soak's workspace: a temp dir with the database, the agents' work dirs and the sweep file on
 * the ordinary disk, and the runs dir on a small tmpfs (so it can be filled up); what the database
 * says of the runs while the soak goes on; and the unmount and removal at the end.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDb, tinySweep } from '../../test/cluster.js';
import { writeJson } from '../../test/helpers.js';
import { SWEEP } from './types.js';

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export interface WorkspaceOptions {
  nRuns: number;
  steps: number;
  leaseTtl: number;
  maxAttempts: number;
  tmpfsMb: number;
  log: (line: string) => void;
}

export class Workspace {
  readonly dir: string;
  readonly db: string;
  readonly runsDir: string;
  /** The file that fills the runs dir up during the disk-full fault. */
  readonly filler: string;
  readonly sweepFile: string;
  readonly coordFlags: string[];
  /** The runs dir is a tmpfs (until it is unmounted at the end). */
  mounted = false;
  private readonly nRuns: number;

  constructor(o: WorkspaceOptions) {
    this.nRuns = o.nRuns;
    // Workspace: db and agents' work dirs on the ordinary disk, the runs dir on a small tmpfs.
    const dir = (this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlphys-chaos-')));
    const db = (this.db = path.join(dir, 'dlphys.db'));
    const runsDir = (this.runsDir = path.join(dir, 'runs'));
    fs.mkdirSync(runsDir);
    const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${o.tmpfsMb}m`, 'tmpfs', runsDir], { encoding: 'utf8' });
    if (mount.status === 0) {
      this.mounted = true;
      o.log(`runs dir ${runsDir}: tmpfs of ${o.tmpfsMb} MiB`);
    } else {
      o.log(`cannot mount a tmpfs on the runs dir (${(mount.stderr || mount.error?.message || `exit ${mount.status}`).trim()}): skipping the disk-full fault`);
    }
    this.filler = path.join(runsDir, 'filler.bin');

    const sweep = tinySweep({ name: SWEEP, runs: o.nRuns, steps: o.steps, logEvery: 50 });
    (sweep.base as { train: Record<string, unknown> }).train = { steps: o.steps, batch_size: 32, eval_every: 500, log_every: 50 };
    this.sweepFile = writeJson(path.join(dir, 'sweep.json'), sweep);
    this.coordFlags = ['--db', db, '--runs-dir', runsDir, '--lease-ttl', String(o.leaseTtl), '--max-attempts', String(o.maxAttempts)];
  }

  states(): Record<string, string> {
    if (!fs.existsSync(this.db)) return {};
    const h = openDb(this.db);
    try {
      return Object.fromEntries((h.prepare('SELECT id, state FROM runs').all() as { id: string; state: string }[]).map((r) => [r.id, r.state]));
    } finally {
      h.close();
    }
  }

  allEnded(): boolean {
    const s = Object.values(this.states());
    return s.length === this.nRuns && s.every((x) => ['completed', 'diverged', 'failed', 'cancelled'].includes(x));
  }

  /** Attempts that have reported: ended other than by a lost lease. */
  reportedAttempts(): number {
    const h = openDb(this.db);
    try {
      return (h.prepare("SELECT count(*) AS n FROM attempts WHERE ended_at IS NOT NULL AND outcome <> 'lost'").get() as { n: number }).n;
    } finally {
      h.close();
    }
  }

  /** Unmounts the tmpfs and removes the temp dir; every process must have been killed first. */
  remove(): void {
    const { runsDir } = this;
    if (this.mounted) {
      // The coordinator may hold files there for a moment after SIGKILL.
      for (let i = 0; i < 50; i++) {
        const u = spawnSync('umount', [runsDir], { encoding: 'utf8' });
        if (u.status === 0) {
          this.mounted = false;
          break;
        }
        sleepSync(100);
      }
      if (this.mounted && spawnSync('umount', ['-l', runsDir]).status === 0) this.mounted = false;
      if (this.mounted) process.stderr.write(`chaos: could not unmount ${runsDir}; run: umount ${runsDir}\n`);
    }
    if (!this.mounted) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
