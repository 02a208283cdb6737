import { Command } from 'commander';
import { unary } from '../../proto/client.js';
import { addClientOptions, type ClientFlags } from '../listen_options.js';
import { withCoordinator } from './client_call.js';

export function cancelCommand(): Command {
  return addClientOptions(new Command('cancel'))
    .description('Cancel a sweep or one run: queued runs at once, running ones within a heartbeat (they stop and report).')
    .argument('<sweep-or-run>', 'a sweep name, or a run id <sweep>/<run>')
    .addHelpText('after', '\nExamples:\n  $ dlphys-coord cancel grid\n  $ dlphys-coord cancel grid/r003')
    .action(async (target: string, flags: ClientFlags) => {
      const reply = await withCoordinator(flags, (conn) => unary(conn, 'Cancel', { target }));
      process.stdout.write(`cancel ${target}: ${reply.affected} run(s)\n`);
    });
}

export function retryCommand(): Command {
  return addClientOptions(new Command('retry'))
    .description('Queue the failed (and cancelled) runs of a sweep, or one run, again.')
    .argument('<sweep-or-run>', 'a sweep name, or a run id <sweep>/<run>')
    .addHelpText('after', '\nExamples:\n  $ dlphys-coord retry grid\n  $ dlphys-coord retry grid/r003')
    .action(async (target: string, flags: ClientFlags) => {
      const reply = await withCoordinator(flags, (conn) => unary(conn, 'Retry', { target }));
      process.stdout.write(`retry ${target}: ${reply.affected} run(s) queued again\n`);
    });
}
