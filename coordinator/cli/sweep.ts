import { Command } from 'commander';
import { UsageError } from '../../lib/errors.js';
import { loadSweep, type ExpandedSweep } from '../../lib/sweep/index.js';
import { connect, describeCallError, isUnavailable, unary } from '../../proto/client.js';
import { addListenOptions, type ListenFlags } from '../listen_options.js';
import { logLine, runCoordinator } from '../run_coordinator.js';

interface SweepFlags extends ListenFlags {
  name?: string;
  dryRun: boolean;
  json: boolean;
  tlsCa?: string;
}

export function sweepCommand(): Command {
  return addListenOptions(new Command('sweep'))
    .description(
      'Expand a sweep file (W&B sweep-configuration keys) into runs, record them, and serve them to agents. ' +
        'When a coordinator already serves --host:--port, the sweep is submitted to it instead.',
    )
    .argument('<file>', 'sweep file (JSON)')
    .option('--name <name>', "sweep name (default: the file's `name`, else its base name); runs land in <runs-dir>/<name>/")
    .option('--dry-run', 'print the runs the file expands to and record nothing', false)
    .option('--json', 'with --dry-run: one JSON object a line (index, name, params, config)', false)
    .option('--tls-ca <file>', 'PEM CA certificate, to submit to a coordinator that serves TLS')
    .addHelpText(
      'after',
      `
Examples:
  $ dlphys-coord sweep examples/grid.json                  # record and serve; agents connect to 127.0.0.1:50051
  $ dlphys-coord sweep examples/grid.json --dry-run        # what would run
  $ dlphys-coord sweep examples/random.json --dry-run --json | jq .params
  $ dlphys-coord sweep examples/grid.json --exit-when-done # serve until every run has finished`,
    )
    .action(async (file: string, flags: SweepFlags) => {
      const sweep = loadSweep(file, flags.name !== undefined ? { name: flags.name } : {});
      for (const w of sweep.warnings) logLine(`warning: ${w}`);
      if (flags.dryRun) return printDryRun(sweep, flags.json);
      if (await submitToRunning(sweep, flags)) return;
      await runCoordinator({ flags, sweep });
    });
}

function printDryRun(sweep: ExpandedSweep, json: boolean): void {
  if (json) {
    for (const run of sweep.runs) process.stdout.write(JSON.stringify({ index: run.index, name: run.name, params: run.params, config: run.config }) + '\n');
    return;
  }
  const keys = [...new Set(sweep.runs.flatMap((r) => Object.keys(r.params)))];
  const rows = sweep.runs.map((r) => [r.name, ...keys.map((k) => JSON.stringify(r.params[k]))]);
  const header = ['run', ...keys];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  process.stdout.write([line(header), ...rows.map(line)].join('\n') + '\n');
  process.stderr.write(`sweep ${sweep.name}: ${sweep.runs.length} runs (${sweep.method}); nothing recorded (--dry-run)\n`);
}

/** Submits to a coordinator already serving the address; false when none answers there. */
async function submitToRunning(sweep: ExpandedSweep, flags: SweepFlags): Promise<boolean> {
  const address = `${flags.host}:${flags.port}`;
  if (flags.port === 0) return false;
  const conn = connect(address, { token: flags.token, tlsCa: flags.tlsCa });
  try {
    await unary(conn, 'Status', { sweep: '-' }, 1500).catch((err) => {
      // NOT_FOUND for the "-" sweep still proves a coordinator is there.
      if (isUnavailable(err)) throw err;
    });
  } catch {
    conn.close();
    return false;
  }
  try {
    const reply = await unary(conn, 'SubmitSweep', { sweep_json: JSON.stringify(sweep) }, 60_000);
    logLine(
      reply.existed
        ? `sweep ${reply.sweep} was already recorded by the coordinator at ${address}: nothing added`
        : `submitted sweep ${reply.sweep} (${reply.runs} runs) to the coordinator at ${address}`,
    );
    return true;
  } catch (err) {
    throw new UsageError(describeCallError(address, err));
  } finally {
    conn.close();
  }
}
