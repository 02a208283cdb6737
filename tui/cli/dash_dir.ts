/**
 * `dlphys dash PATH`: the dashboard over run folders (a folder) or over a coordinator's database
 * (a file), with no coordinator to ask. bin/dlphys.js adds it to the dlphys program (lib/ never
 * imports tui/). The sources and the dashboard are imported when the command runs, so the other
 * dlphys commands do not load them.
 */
import { Command } from 'commander';
import fs from 'node:fs';
import { positiveInt, positiveNumber } from '../../lib/cli/flags.js';
import { UsageError } from '../../lib/errors.js';
import { logLine } from '../../lib/log.js';
import type { DashSource } from '../source.js';

interface DashDirFlags {
  dash: boolean;
  poll: number;
  runsDir?: string;
  leaseTtl: number;
}

/** A SQLite database file starts with these 16 bytes. */
const SQLITE_MAGIC = 'SQLite format 3\0';

export function dashDirCommand(): Command {
  return new Command('dash')
    .description(
      'Watch run folders (a folder: runs/, runs/<sweep>/) or a coordinator database (a file: runs/dlphys.db) without a coordinator: ' +
        'the dashboard on a terminal, else one progress line per change until every run has finished.',
    )
    .argument('<path>', 'a folder of run folders, or a coordinator --db file')
    .option('--no-dash', 'print progress lines even on a terminal')
    .option('--poll <ms>', 'look for changes this often', positiveInt('--poll'), 1000)
    .option('--runs-dir <dir>', "with a database: where its run folders landed, for a run's log (default: the database's folder)")
    .option('--lease-ttl <seconds>', "with a database: the coordinator's --lease-ttl (an agent silent for twice this is shown lost)", positiveNumber('--lease-ttl'), 30)
    .addHelpText(
      'after',
      `
Examples:
  $ dlphys dash runs/mnist_grid          # one sweep's run folders, live while they are written
  $ dlphys dash runs                     # every run under runs/ (sweep = the folder a run sits in)
  $ dlphys dash runs/dlphys.db           # a coordinator's database, read-only (safe while it runs)
  $ dlphys dash runs/mnist_grid | cat    # no terminal: progress lines until every run has finished`,
    )
    .action(async (target: string, flags: DashDirFlags) => {
      const source = await openSource(target, flags);
      if (flags.dash && process.stdout.isTTY) {
        const { loadDashboard } = await import('./load_dashboard.js');
        const loaded = await loadDashboard();
        if (loaded.ok) return loaded.dashboard.runDashboard(source);
        logLine(`${loaded.why}; printing progress lines instead`);
      }
      const { printProgress } = await import('./plain_progress.js');
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        await printProgress(source, { write: logLine, signal: stop.signal });
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}

/** The source for `target`: a folder's run folders, or a database file; a usage error for anything else. */
async function openSource(target: string, flags: DashDirFlags): Promise<DashSource> {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(target);
  } catch {
    throw new UsageError(`${target} not found; give a folder of run folders (runs/<sweep>) or a coordinator database file (runs/dlphys.db)`);
  }
  if (stat.isDirectory()) {
    if (flags.runsDir !== undefined) throw new UsageError('--runs-dir goes with a database file; for a folder, name the folder itself');
    const { folderSource } = await import('../sources/folders.js');
    return folderSource(target, { pollMs: flags.poll });
  }
  if (!isSqlite(target)) throw new UsageError(`${target} is neither a folder nor a SQLite database; give a folder of run folders or a coordinator --db file`);
  const { databaseSource, openReadOnly } = await import('../sources/database.js');
  try {
    // Opened once here so that a file that is no coordinator database fails now, as one line.
    openReadOnly(target).close();
  } catch (err) {
    throw new UsageError(`cannot read ${target}: ${(err as Error).message}`);
  }
  return databaseSource(target, { pollMs: flags.poll, leaseTtlMs: flags.leaseTtl * 1000, ...(flags.runsDir !== undefined ? { runsDir: flags.runsDir } : {}) });
}

function isSqlite(file: string): boolean {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const buf = Buffer.alloc(16);
      return fs.readSync(fd, buf, 0, 16, 0) === 16 && buf.toString('latin1') === SQLITE_MAGIC;
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return false;
  }
}
