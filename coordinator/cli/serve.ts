import { Command } from 'commander';
import { addListenOptions, type ListenFlags } from '../listen_options.js';
import { runCoordinator } from '../run_coordinator.js';

/** `dlphys-coord serve`: serve the sweeps already recorded in --db. */
export function serveCommand(): Command {
  return addListenOptions(new Command('serve'))
    .description('Serve the sweeps recorded in the database to agents (start it again on the same --db to continue after a crash).')
    .addHelpText(
      'after',
      `
Examples:
  $ dlphys-coord serve
  $ dlphys-coord serve --db /data/dlphys.db --runs-dir /data/runs --port 50051
  $ dlphys-coord serve --host 0.0.0.0 --token-file ~/.dlphys-token   # a file only you can read (chmod 600)`,
    )
    .action(async (flags: ListenFlags) => {
      await runCoordinator({ flags });
    });
}
