import { Command } from 'commander';
import { isProgramJob, loadSweep, onDemandLine, type ExpandedSweep, type ProgramJob } from '../../lib/sweep/index.js';
import { buildProgramCommand, shellQuote } from '../../lib/sweep/program_command.js';
import { addListenOptions, type ListenFlags } from '../listen_options.js';
import { logLine } from '../../lib/log.js';
import { textTable } from '../../lib/text_table.js';
import { runCoordinator } from '../run_coordinator.js';
import { loadDashboard } from '../../tui/cli/load_dashboard.js';
import { runCoordinatorWithDashboard } from './sweep_dash.js';
import { UsageError } from '../../lib/errors.js';
import { requireSbatch, sbatchTestOnly } from '../slurm/commands.js';
import { planJob, slurmTokenFile } from '../slurm/jobs.js';
import { addSlurmOptions, anySlurmFlag, slurmOptions, type SlurmFlags, type SlurmOptions } from '../slurm/options.js';
import { SLURM_EXAMPLES } from './slurm.js';

interface SweepFlags extends ListenFlags, SlurmFlags {
  name?: string;
  dryRun: boolean;
  json: boolean;
  dash: boolean;
  slurm: boolean;
}

/** `dlphys-coord sweep FILE`: record a sweep in --db and serve it; --dry-run only prints its runs. */
export function sweepCommand(): Command {
  const cmd = addListenOptions(new Command('sweep'))
    .description(
      'Expand a sweep file (W&B sweep-configuration keys) into runs, record them, and serve them to agents. ' +
        'It never sends the sweep anywhere: to add a sweep to a coordinator that is already running, use dlphys-coord submit FILE --coord HOST:PORT.',
    )
    .argument('<file>', "sweep file (JSON or YAML, W&B's keys: a W&B user's sweep.yaml with program: train.py runs as it is)")
    .option('--name <name>', "sweep name (default: the file's `name`, else its base name); runs land in <runs-dir>/<name>/")
    .option('--dry-run', 'print the runs the file expands to and record nothing', false)
    .option('--json', 'with --dry-run: one JSON object a line (index, name, params, config)', false)
    .option('--no-dash', 'progress lines on stderr even on a terminal (without a terminal, as in a pipe, CI or nohup, they are what it prints)')
    .option('--slurm', 'also submit a SLURM job array of agents for the sweep (the options below; see dlphys-coord slurm --help)', false);
  return addSlurmOptions(cmd)
    .addHelpText(
      'after',
      `
Examples:
  $ dlphys-coord sweep examples/grid.json                  # record and serve; agents connect to 127.0.0.1:50051
  $ dlphys-coord sweep examples/grid.json --no-dash        # progress lines instead of the dashboard
  $ dlphys-coord sweep examples/grid.json --dry-run        # what would run
  $ dlphys-coord sweep examples/random.json --dry-run --json | jq .params
  $ dlphys-coord sweep examples/grid.json --exit-when-done # serve until every run has finished
  $ dlphys-coord sweep sweep.json --host 0.0.0.0 --token-file ~/.dlphys-token   # agents on other hosts
  $ dlphys-coord sweep examples/programs/sweep.yaml --dry-run   # a program sweep: each run's command line
${SLURM_EXAMPLES}`,
    )
    .action(async (file: string, flags: SweepFlags) => {
      // A program sweep's code snapshot leaves out this coordinator's own database and run folders.
      const name = { ...(flags.name !== undefined ? { name: flags.name } : {}), codeExclude: [flags.db, flags.runsDir] };
      // An open-ended sweep's dry run shows the runs it would start with.
      // SLURM options are checked (and sbatch looked for) before anything is read or recorded.
      if (!flags.slurm && anySlurmFlag(flags)) throw new UsageError('SLURM options (--partition, --time, --gpu, ...) need --slurm');
      const slurm = flags.slurm ? slurmOptions(flags) : undefined;
      if (slurm) checkSlurmCoordinator(flags);
      if (slurm && !flags.dryRun) requireSbatch();
      const sweep = loadSweep(file, flags.dryRun ? { ...name, window: { from: 0, count: OPEN_DRY_RUN } } : name);
      for (const w of sweep.warnings) logLine(`warning: ${w}`);
      // SLURM checks the job before the sweep is recorded: a wrong partition or account is one line, and nothing is left behind.
      if (slurm && !flags.dryRun) await sbatchTestOnly(planJob(slurm, { sweep: sweep.name, runsLeft: sweep.open ? Infinity : sweep.runs.length, host: flags.host, port: flags.port, runsDir: flags.runsDir }).script);
      if (flags.dryRun) {
        printDryRun(sweep, flags.json);
        if (slurm) printDryRunScript(sweep, slurm, flags);
        return;
      }
      const onDemand = onDemandLine(sweep);
      if (onDemand) logLine(`sweep ${sweep.name}: ${onDemand}`);
      const opts = {
        flags,
        sweep,
        ...(slurm ? { slurm } : {}),
        // Whatever holds the port is not asked anything: it may not be a coordinator at all.
        portTakenFix: (address: string) => `to add this sweep to a coordinator there, run dlphys-coord submit ${file} --coord ${address}; else choose another --port`,
      };
      // The dashboard only on a terminal: a pipe, CI or nohup gets the progress lines.
      if (flags.dash && process.stdout.isTTY) {
        const loaded = await loadDashboard();
        if (loaded.ok) return runCoordinatorWithDashboard(opts, loaded.dashboard);
        logLine(`${loaded.why}; printing progress lines instead`);
      }
      await runCoordinator(opts);
    });
}

/** What a coordinator started with --slurm must have for its agents to reach it. UsageError otherwise. */
function checkSlurmCoordinator(flags: SweepFlags): void {
  slurmTokenFile(flags.token, flags.tokenFile);
  if (flags.tlsCert) throw new UsageError('--slurm does not pass a TLS CA to its agents yet: drop --tls-cert, or start the agents by hand with --tls-ca (see README, On a SLURM cluster)');
}

/** The job script `--slurm` would submit, to stdout (after the runs), with what it would need to know. */
function printDryRunScript(sweep: ExpandedSweep, slurm: SlurmOptions, flags: SweepFlags): void {
  const plan = planJob(slurm, { sweep: sweep.name, runsLeft: sweep.open ? Infinity : sweep.runs.length, host: flags.host, port: flags.port, runsDir: flags.runsDir, tokenFile: slurmTokenFile(flags.token, flags.tokenFile) });
  process.stdout.write(`\n${plan.script}`);
  for (const w of plan.warnings) logLine(`warning: ${w}`);
  logLine(`sweep ${sweep.name}: the script above would be written to ${plan.scriptPath} and submitted with sbatch; nothing submitted (--dry-run)`);
}

/** Runs an open-ended sweep's dry run shows. */
const OPEN_DRY_RUN = 8;

/** A program run's command line as an agent would build it, its folder written as <run>. */
function dryRunCommand(sweep: string, run: string, job: ProgramJob): string {
  const argv = buildProgramCommand({
    command: job.command ?? undefined,
    program: job.program ?? undefined,
    params: job.params,
    interpreter: 'python3',
    argsJsonFile: `<run>/wandb/sweep-${sweep}/config-${run}.json`,
    env: process.env,
  });
  return argv.map(shellQuote).join(' ');
}

function printDryRun(sweep: ExpandedSweep, json: boolean): void {
  if (json) {
    for (const run of sweep.runs) process.stdout.write(JSON.stringify({ index: run.index, name: run.name, params: run.params, config: run.config }) + '\n');
    return;
  }
  const keys = [...new Set(sweep.runs.flatMap((r) => Object.keys(r.params)))];
  const rows = sweep.runs.map((r) => [r.name, ...keys.map((k) => JSON.stringify(r.params[k])), ...(isProgramJob(r.config) ? [dryRunCommand(sweep.name, r.name, r.config)] : [])]);
  const head = ['run', ...keys, ...(sweep.kind === 'program' ? ['command (as an agent with python3 runs it)'] : [])];
  process.stdout.write(textTable([head, ...rows]).join('\n') + '\n');
  process.stderr.write(
    sweep.open
      ? `sweep ${sweep.name}: ${onDemandLine(sweep)}; ${sweep.method === 'bayes' ? `${sweep.runs.length} random draws shown as an example of its first runs` : `its first ${sweep.runs.length} runs shown`}; nothing recorded (--dry-run)\n`
      : `sweep ${sweep.name}: ${sweep.runs.length} runs (${sweep.method}); nothing recorded (--dry-run)\n`,
  );
}
