/**
 * `dlphys-coord dash`: the terminal dashboard of a running coordinator, from any machine that
 * reaches it. The coordinator is asked once before anything is drawn, so a wrong address or token
 * is one line and an exit code, not a dashboard that says "reconnecting" forever.
 */
import { Command } from 'commander';
import { addClientOptions, type ClientFlags } from '../../lib/cli/client_options.js';
import { UsageError } from '../../lib/errors.js';
import { describeCallError } from '../../proto/errors.js';
import type { DashboardOptions } from '../run_dashboard.js';
import type { DashSource } from '../source.js';
import { coordinatorSource } from '../sources/coordinator.js';

/**
 * tui/run_dashboard.tsx's runDashboard, loaded when first called: Ink and React take about half a
 * second to load, which every other dlphys-coord command (serve, status) would otherwise pay.
 */
export async function runDashboard(source: DashSource, options?: DashboardOptions): Promise<void> {
  // Ink draws only the last frame when it thinks it runs under CI (CI or CONTINUOUS_INTEGRATION
  // set, read once when it loads): right for a build log, wrong for someone watching a terminal.
  // On a terminal the dashboard is drawn live, whatever the environment says.
  if ((options?.stdout ?? process.stdout).isTTY) {
    for (const key of ['CI', 'CONTINUOUS_INTEGRATION']) if (key in process.env) process.env[key] = 'false';
  }
  // React runs its development build (extra checks and timing on every render, several times the
  // CPU per frame) unless NODE_ENV says production; a user watching a sweep is not debugging React.
  process.env.NODE_ENV ??= 'production';
  const { runDashboard: run } = await import('../run_dashboard.js');
  return run(source, options);
}

/** The `dash` command, for dlphys-coord. */
export function dashCommand(): Command {
  return addClientOptions(new Command('dash'))
    .description('Watch a running coordinator: sweeps (progress, runs/min, ETA, best run), agents (heartbeats, CPU, RAM, GPUs), runs (sortable, filterable, with curves), a run in detail, runs compared.')
    .addHelpText(
      'after',
      `
Keys: arrows or j/k move, tab changes pane, enter opens, esc goes back, / filters, s/S sort,
space marks runs and c compares them, ? lists every key, q quits.
Colour is off under NO_COLOR and when the output is not a terminal.

Examples:
  $ dlphys-coord dash
  $ dlphys-coord dash --coord head:50051 --token-file ~/.dlphys-token`,
    )
    .action(async (flags: ClientFlags) => {
      const source = coordinatorSource(flags.coord, { token: flags.token, tlsCa: flags.tlsCa });
      try {
        await source.probe();
      } catch (err) {
        source.close();
        throw new UsageError(describeCallError(flags.coord, err));
      }
      try {
        await runDashboard(source);
      } finally {
        source.close();
      }
    });
}
