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
      const reply = await withCoordinator(flags, (conn) => unary(conn, 'Cancel', { target }));
      process.stdout.write(`cancel ${target}: ${reply.affected} run(s)\n`);
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
        return whyNothingToRetry(target, await unary(conn, 'Status', { sweep: target.split('/')[0]! }));
      });
      process.stdout.write(`${message}\n`);
    });
}

/** A retry that queued nothing says what state the target's runs are in, so the user knows why. */
function whyNothingToRetry(target: string, status: StatusReply__Output): string {
  const retryable = 'retry takes failed or cancelled runs';
  if (target.includes('/')) {
    const run = status.runs.find((r) => r.id === target);
    return `nothing to retry: run ${target} is ${run?.state ?? 'gone'}; ${retryable}`;
  }
  const states = status.sweeps.find((w) => w.name === target)?.states ?? {};
  const counts = Object.entries(states)
    .filter(([, n]) => n > 0)
    .map(([state, n]) => `${n} ${state}`);
  return `nothing to retry: sweep ${target} has no failed or cancelled runs (${counts.join(', ') || 'no runs'}); ${retryable}`;
}
