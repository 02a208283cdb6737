import { Command } from 'commander';
import type { StatusReply__Output } from '../../proto/generated/dlphys/StatusReply.js';
import { unary } from '../../proto/client.js';
import { addClientOptions, type ClientFlags } from '../../lib/cli/client_options.js';
import { withCoordinator } from './client_call.js';

/** `dlphys-coord cancel TARGET`: cancel a sweep's runs or one run. */
export function cancelCommand(): Command {
  return targetCommand({
    verb: 'cancel',
    rpc: 'Cancel',
    description: 'Cancel a sweep or one run: queued runs at once, running ones within a heartbeat (they stop and report).',
    done: (n) => `${n} run(s)`,
    takes: 'cancel takes queued and running runs',
  });
}

/** `dlphys-coord retry TARGET`: queue failed and cancelled runs again, or say why there were none. */
export function retryCommand(): Command {
  return targetCommand({
    verb: 'retry',
    rpc: 'Retry',
    description:
      "Queue the failed (and cancelled) runs of a sweep, or one run, again. A program sweep's runs run the code it was submitted with: after fixing the script, submit the sweep again (under another --name).",
    done: (n) => `${n} run(s) queued again`,
    takes: 'retry takes failed or cancelled runs',
  });
}

/** What a command that acts on a sweep or one run says and asks. */
interface TargetAction {
  verb: 'cancel' | 'retry';
  rpc: 'Cancel' | 'Retry';
  description: string;
  /** What `affected` runs having changed reads as, after `VERB TARGET: `. */
  done(affected: number): string;
  /** Which runs the verb acts on, said when it found none. */
  takes: string;
}

/** Cancel and retry share their shape: one target, one call, and an explanation when nothing changed. */
function targetCommand(action: TargetAction): Command {
  const { verb } = action;
  return addClientOptions(new Command(verb))
    .description(action.description)
    .argument('<sweep-or-run>', 'a sweep name, or a run id <sweep>/<run>')
    .addHelpText('after', `\nExamples:\n  $ dlphys-coord ${verb} grid\n  $ dlphys-coord ${verb} grid/r003`)
    .action(async (target: string, flags: ClientFlags) => {
      const message = await withCoordinator(flags, async (conn) => {
        const reply = await unary(conn, action.rpc, { target });
        if (reply.affected > 0) return `${verb} ${target}: ${action.done(reply.affected)}`;
        return nothingDone(verb, target, action.takes, await unary(conn, 'Status', { sweep: target.split('/')[0]! }));
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
