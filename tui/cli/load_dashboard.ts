/**
 * The interactive dashboard's two entry points, loaded only when a terminal is there to show
 * them: runDashboard (tui/cli/dash.ts) and coordinatorSource (tui/sources/coordinator.ts). Loading
 * them on demand keeps Ink and React out of every command that prints plain lines (pipes, CI,
 * nohup), and lets a build without the dashboard's modules fall back to those lines.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageDir } from '../../lib/package_dir.js';
import type { DashSource } from '../source.js';

/** What runDashboard accepts besides its source. */
export interface DashOptions {
  /** Ends the dashboard as a user quitting it would: the job it watched is over. */
  readonly signal?: AbortSignal;
}

/** How coordinatorSource reaches a coordinator (the flags of proto/client.ts's connect). */
export interface CoordinatorSourceOptions {
  readonly token?: string;
  readonly tlsCa?: string;
}

export interface Dashboard {
  /** Draws `source` until the user quits (q, Ctrl-C) or `opts.signal` aborts; the terminal is restored when it resolves. */
  runDashboard(source: DashSource, opts?: DashOptions): Promise<void>;
  /** A coordinator's Status and Watch stream as a source. */
  coordinatorSource(address: string, options?: CoordinatorSourceOptions): DashSource;
}

export type LoadedDashboard = { ok: true; dashboard: Dashboard } | { ok: false; why: string };

/** The dashboard, or why it cannot be shown (its modules are not in this build). */
export async function loadDashboard(): Promise<LoadedDashboard> {
  try {
    const [dash, coordinator] = await Promise.all([importOwn('./dash.js'), importOwn('../sources/coordinator.js')]);
    return { ok: true, dashboard: { runDashboard: dash.runDashboard, coordinatorSource: coordinator.coordinatorSource } as Dashboard };
  } catch (err) {
    if (err instanceof MissingModule) return { ok: false, why: err.message };
    throw err;
  }
}

class MissingModule extends Error {}

/**
 * Imports a module of this package by a path relative to this file. Only that module missing is
 * a MissingModule; anything else (a missing dependency, a bug) is thrown as it is.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function importOwn(relative: string): Promise<any> {
  const url = new URL(relative, import.meta.url).href;
  try {
    // A computed specifier: the module may not exist in this build, which must not stop the compile.
    return await import(url);
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { url?: string };
    if (e.code === 'ERR_MODULE_NOT_FOUND' && e.url === url) {
      const file = path.relative(packageDir, fileURLToPath(url)).replace(/\.js$/, '.ts');
      throw new MissingModule(`the dashboard is not part of this build (no ${file})`);
    }
    throw err;
  }
}
