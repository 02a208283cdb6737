import { Command } from 'commander';
import { addClientOptions, type ClientFlags } from '../../lib/cli/client_options.js';
import { loadSweep, onDemandLine } from '../../lib/sweep/index.js';
import { unary } from '../../proto/client.js';
import { logLine } from '../../lib/log.js';
import { withCoordinator } from './client_call.js';

interface SubmitFlags extends ClientFlags {
  name?: string;
}

/**
 * `dlphys-coord submit FILE --coord HOST:PORT`: expands the sweep here (so a bad file fails
 * before anything is sent) and records it in the coordinator the user named. Submission is its
 * own command, never a side effect of `sweep`: the token and the sweep go only to an address the
 * user typed, not to whatever process happens to hold a port.
 */
export function submitCommand(): Command {
  const cmd = new Command('submit')
    .description(
      'Add a sweep to a coordinator that is already running (at --coord). Its database, runs dir and exit policy are that ' +
        "coordinator's own: submit takes no --db, --runs-dir or --exit-when-done.",
    )
    .argument('<file>', 'sweep file (JSON or YAML, W&B keys)');
  return addClientOptions(cmd, { required: true, description: 'the running coordinator to add the sweep to (required: nothing is sent anywhere else)' })
    .option('--name <name>', "sweep name (default: the file's `name`, else its base name)")
    .addHelpText(
      'after',
      `
Examples:
  $ dlphys-coord submit examples/random.json --coord 127.0.0.1:50051
  $ dlphys-coord submit sweep.json --coord head:50051 --token-file ~/.dlphys-token --name lr-2
  $ dlphys-coord submit sweep.json --coord head:50051 --token-file ~/.dlphys-token --tls-ca ca.pem

Submitting the same file again adds nothing (the coordinator recognises it). To start a
coordinator with a sweep instead, use dlphys-coord sweep FILE.`,
    )
    .action(async (file: string, flags: SubmitFlags) => {
      const sweep = loadSweep(file, flags.name !== undefined ? { name: flags.name } : {});
      for (const w of sweep.warnings) logLine(`warning: ${w}`);
      // The snapshot travels beside the sweep's JSON, as bytes (never inside it).
      const { codeArchive, ...json } = sweep;
      const reply = await withCoordinator(flags, (conn) =>
        unary(conn, 'SubmitSweep', { sweep_json: JSON.stringify(json), code_archive: codeArchive ?? Buffer.alloc(0) }, 60_000),
      );
      logLine(
        reply.existed
          ? `sweep ${reply.sweep} was already recorded by the coordinator at ${flags.coord}: nothing added`
          : `submitted sweep ${reply.sweep} (${onDemandLine(sweep) ?? `${reply.runs} runs`}) to the coordinator at ${flags.coord}`,
      );
    });
}
