import { Command } from 'commander';
import { addClientOptions, type ClientFlags } from '../../lib/cli/client_options.js';
import { logLine } from '../../lib/log.js';
import { unary } from '../../proto/client.js';
import { addSlurmOptions, slurmOptions, type SlurmFlags } from '../slurm/options.js';
import { withCoordinator } from './client_call.js';

interface SlurmCommandFlags extends ClientFlags, SlurmFlags {
  dryRun: boolean;
}

/** One example line per way in, shared by `sweep --help` and `slurm --help`. */
export const SLURM_EXAMPLES = `  $ dlphys-coord sweep grid.json --slurm --gpu all --time 8:00:00 --partition gpu --host 0.0.0.0 --token-file ~/.dlphys-token
  $ dlphys-coord sweep grid.json --slurm --cpus-per-task 4 --array-size 8 --module cuda/12.1 --setup "source ~/venv/bin/activate"
  $ dlphys-coord sweep grid.json --slurm --gpu all --dry-run          # print the sbatch script, submit nothing`;

/**
 * `dlphys-coord slurm SWEEP --coord HOST:PORT`: asks the running coordinator to write and submit
 * a job array of agents for a sweep it has recorded (coordinator/slurm/jobs.ts). The coordinator
 * submits it, not this client: it watches the job's tasks and cancels them with the sweep.
 */
export function slurmCommand(): Command {
  const cmd = new Command('slurm')
    .description(
      "Submit a SLURM job array of agents for a sweep the coordinator at --coord has recorded: it writes the sbatch script under <runs-dir>/<sweep>/slurm/, submits it, shows the job's tasks in status and the dashboard, and scancels them when the sweep is cancelled.",
    )
    .argument('<sweep>', 'the name of a recorded sweep');
  addClientOptions(cmd);
  return addSlurmOptions(cmd)
    .option('--dry-run', 'print the script the coordinator would submit, and submit nothing', false)
    .addHelpText(
      'after',
      `
Examples:
  $ dlphys-coord slurm grid --coord head:50051 --token-file ~/.dlphys-token --gpu all --time 4:00:00 --array-size 16
  $ dlphys-coord slurm grid --token-file ~/.dlphys-token --dry-run
${SLURM_EXAMPLES}

Each array task runs one dlphys-agent (--exit-when-idle). SLURM warns its script (USR1) --signal-grace
seconds before --time runs out, and the script passes it on: the agent stops leasing, lets runs that will end in time finish and land, and
hands the rest back to the queue (not counted as lost). --requeue puts a task drained this way
back into SLURM's queue.`,
    )
    .action(async (sweep: string, flags: SlurmCommandFlags) => {
      const options = slurmOptions(flags);
      const reply = await withCoordinator(flags, (conn) => unary(conn, 'SubmitSlurm', { sweep, options_json: JSON.stringify(options), dry_run: flags.dryRun }, 60_000));
      for (const w of reply.warnings) logLine(`warning: ${w}`);
      if (flags.dryRun) {
        process.stdout.write(reply.script);
        logLine(`sweep ${sweep}: the script above would be written to ${reply.script_path}; nothing submitted (--dry-run)`);
        return;
      }
      logLine(`sweep ${sweep}: SLURM job ${reply.job_id} submitted (${reply.script_path}); dlphys-coord status shows its tasks`);
    });
}
