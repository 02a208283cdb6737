/**
 * `dlphys-coord sweep` on a terminal: the coordinator and its dashboard in one process. The
 * dashboard is fed as a remote one is, by a coordinator source on loopback (one code path for
 * both); the coordinator's log lines, which would tear the dashboard's screen, go to
 * `<runs-dir>/<sweep>/coordinator.log` instead, and where is said before and after.
 */
import fs from 'node:fs';
import path from 'node:path';
import { logLine, stamp } from '../../lib/log.js';
import type { ExpandedSweep } from '../../lib/sweep/index.js';
import type { Dashboard } from '../../tui/cli/load_dashboard.js';
import { runCoordinator, type RunCoordinatorOptions } from '../run_coordinator.js';

/** runCoordinator with the dashboard on the terminal until the coordinator exits or the user quits it (which stops the coordinator). */
export async function runCoordinatorWithDashboard(opts: RunCoordinatorOptions & { sweep: ExpandedSweep }, dashboard: Dashboard): Promise<void> {
  const { flags } = opts;
  const logFile = path.join(flags.runsDir, opts.sweep.name, 'coordinator.log');
  let made = false;
  const log = (line: string) => {
    // Made on the first line, after runCoordinator has checked that --runs-dir can be created.
    if (!made) fs.mkdirSync(path.dirname(logFile), { recursive: true });
    made = true;
    fs.appendFileSync(logFile, `${stamp('iso')} ${line}\n`);
  };
  const stopCoordinator = new AbortController();
  const closeDashboard = new AbortController();
  let shown: Promise<void> | null = null;
  let dashError: unknown = null;
  const onListening = (port: number) => {
    logLine(`coordinator log: ${logFile}`);
    // A wildcard listener is reached on loopback from this host.
    const host = flags.host === '0.0.0.0' ? '127.0.0.1' : flags.host === '::' ? '[::1]' : flags.host.includes(':') ? `[${flags.host}]` : flags.host;
    const source = dashboard.coordinatorSource(`${host}:${port}`, { ...(flags.token ? { token: flags.token } : {}), ...(flags.tlsCert ? { tlsCa: flags.tlsCert } : {}) });
    shown = dashboard
      .runDashboard(source, { signal: closeDashboard.signal })
      .catch((err: unknown) => void (dashError = err))
      .finally(() => stopCoordinator.abort('the dashboard was closed'));
  };
  try {
    await runCoordinator({ ...opts, log, onListening, stop: stopCoordinator.signal });
  } finally {
    closeDashboard.abort();
    await shown;
    if (made) logLine(`coordinator log: ${logFile}`);
  }
  if (dashError) throw dashError;
}
