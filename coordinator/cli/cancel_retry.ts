import { Command } from 'commander';
import type { StatusReply__Output } from '../../proto/generated/dlphys/StatusReply.js';
import { unary } from '../../proto/client.js';
import { addClientOptions, type ClientFlags } from '../listen_options.js';
import { withCoordinator } from './client_call.js';

/** `dlphys-coord cancel TARGET`: cancel a sweep's runs or one run. */
export function cancelCommand(): Command {
  return addClientOptions(new Command('cancel'))
    .description('Cancel a sweep or one run: queued runs at once, running ones within a heartbeat (they stop and report).')
    .argument('<sweep-or-run>', 'a sweep name, or a run id <sweep>/<run>')
    .addHelpText('after', '\nExamples:\n  $ dlphys-coord cancel grid\n  $ dlphys-coord cancel grid/r003')
    .action(async (target: string, flags: ClientFlags) => {
      const message = await withCoordinator(flags, async (conn) => {
        const reply = await unary(conn, 'Cancel', { target });
        if (reply.affected > 0) return `cancel ${target}: ${reply.affected} run(s)`;
        return nothingDone('cancel', target, 'cancel takes queued and running runs', await unary(conn, 'Status', { sweep: target.split('/')[0]! }));
      });
      process.stdout.write(`${message}\n`);
    });
}

/** `dlphys-coord retry TARGET`: queue failed and cancelled runs again, or say why there were none. */
export function retryCommand(): Command {
  return addClientOptions(new Command('retry'))
    .description('Queue the failed (and cancelled) runs of a sweep, or one run, again.')
    .argument('<sweep-or-run>', 'a sweep name, or a run id <sweep>/<run>')
    .addHelpText('after', '\nExamples:\n  $ dlphys-coord retry grid\n  $ dlphys-coord retry grid/r003')
    .action(async (target: string, flags: ClientFlags) => {
      const message = await withCoordinator(flags, async (conn) => {
        const reply = await unary(conn, 'Retry', { target });
        if (reply.affected > 0) return `retry ${target}: ${reply.affected} run(s) queued again`;
        return nothingDone('retry', target, 'retry takes failed or cancelled runs', await unary(conn, 'Status', { sweep: target.split('/')[0]! }));
      });
      process.stdout.write(`${message}\n`);
    });
}

/** A cancel or retry that changed nothing says what state the target's runs are in, so the user knows why. */
function nothingDone(verb: string, target: string, takes: string, status: StatusReply__Output): string {
  if (target.includes('/')) {
    const run = status.runs.find((r) => r.id === target);
    return `nothing to ${verb}: run ${target} is ${run?.state ?? 'gone'}; ${takes}`;
  }
  const states = status.sweeps.find((w) => w.name === target)?.states ?? {};
  const counts = Object.entries(states)
    .filter(([, n]) => n > 0)
    .map(([state, n]) => `${n} ${state}`);
  return `nothing to ${verb}: sweep ${target} has ${counts.join(', ') || 'no runs'}; ${takes}`;
}
