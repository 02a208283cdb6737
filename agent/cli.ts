import { Command, Option } from 'commander';
import os from 'node:os';
import path from 'node:path';
import { runProgram } from '../lib/cli/command.js';
import { nonNegative, positiveInt, positiveNumber } from '../lib/cli/flags.js';
import { addClientOptions, DEFAULT_COORD, type ClientFlags } from '../lib/cli/client_options.js';
import { UsageError } from '../lib/errors.js';
import { logLine as log } from '../lib/log.js';
import { version } from '../lib/version.js';
import { connect, parseAddress } from '../proto/client.js';
import { Agent, AgentFatalError } from './agent.js';
import { GRACE_SHARE } from './drain.js';
import { DEFAULT_REUSE } from './launch/reuse_policy.js';
import { GPU_BACKEND_MISSING, hasGpuBackend, resolveGpus } from './gpus.js';
import { resolveInterpreter } from './program_host.js';
import { lockWorkDir } from './work_dir.js';

interface AgentFlags extends ClientFlags {
  gpu?: string;
  slots?: number;
  workDir?: string;
  exitWhenIdle: boolean;
  uploadEvery: number;
  poll: number;
  runsPerProcess: number;
  runnerMaxMinutes: number;
  connectTimeout?: number;
  interpreter?: string;
  wandbShim: boolean;
  drainGrace: number;
}

/** Without --connect-timeout: an agent told to exit when idle gives up on a coordinator that never answers after this long. */
const IDLE_CONNECT_TIMEOUT_S = 300;


const agentCommand = new Command('dlphys-agent')
  .description('Leases runs from a dlphys coordinator and trains each in its own child process, one per slot.')
  .version(version);

const program = addClientOptions(agentCommand, { description: 'the coordinator', default: DEFAULT_COORD })
  .option('--gpu <ids>', 'GPU ids to pin slots to (0 | 0,1 | all), counted within CUDA_VISIBLE_DEVICES when the scheduler set it; selects the tfjs-node-gpu backend')
  .option('--slots <n>', 'runs at a time (default: one per GPU; on a CPU-only agent one per core); a CPU run gets cores / slots threads', positiveInt('--slots'))
  .option('--work-dir <dir>', 'where runs train before their folders are uploaded (default: a folder under the system temp dir)')
  .option('--exit-when-idle', 'exit when no sweep has a run left to do', false)
  .option('--upload-every <seconds>', 'upload a running run\'s folder this often (0: only at the end)', nonNegative('--upload-every'), 60)
  .option('--poll <ms>', 'wait between lease requests when the queue is empty', positiveInt('--poll'), 1000)
  .option(
    '--connect-timeout <seconds>',
    `give up (exit 2) when no coordinator answers for this long while there is nothing to train (0: never; default ${IDLE_CONNECT_TIMEOUT_S} with --exit-when-idle, else 0)`,
    nonNegative('--connect-timeout'),
  )
  .option('--interpreter <path>', "the Python of program sweeps' runs, W&B's ${interpreter} (default: python3 when on PATH, else python)")
  .option('--wandb-shim', "program runs import dlphys's wandb module even where the real wandb is installed (their metrics then stream live; without it, the real wandb logs offline)", false)
  .option(
    '--runs-per-process <n>',
    `runs one child process trains in turn (default ${DEFAULT_REUSE.maxRuns}; 1: a fresh process per run). A process is replaced sooner after a failed or diverged run, a run that left tensors allocated or grew its memory, or --runner-max-minutes`,
    positiveInt('--runs-per-process'),
    DEFAULT_REUSE.maxRuns,
  )
  .option('--runner-max-minutes <m>', 'a child process older than this takes no further run', positiveNumber('--runner-max-minutes'), DEFAULT_REUSE.maxAgeMs / 60_000)
  .addOption(
    new Option(
      '--drain-grace <seconds>',
      `on SIGUSR1 (a SLURM job's time-limit warning) or Ctrl-C, runs whose pace says they end within ${GRACE_SHARE * 100}% of this many seconds train on to their end; the others (and any still training then) stop and are handed back (0: all at once; SIGTERM always drains at once)`,
    )
      .env('DLPHYS_DRAIN_GRACE')
      .argParser(nonNegative('--drain-grace'))
      .default(0),
  )
  .addHelpText(
    'after',
    `
Examples:
  $ dlphys-agent --coord head:50051 --gpu 0
  $ dlphys-agent --coord head:50051 --gpu 0,1 --slots 4      # two runs per GPU
  $ dlphys-agent --coord 127.0.0.1:50051 --exit-when-idle    # CPU, until the sweeps are done
  $ srun --gpus-per-task=1 dlphys-agent --coord head:50051 --gpu 0   # SLURM: one agent per GPU
  $ dlphys-agent --coord head:50051 --gpu all --interpreter ~/venv/bin/python   # program sweeps (train.py) in a venv

Program sweeps (W&B's program/command) run their program with the sweep's parameters on its
command line as W&B's agent does; --gpu without tfjs-node-gpu leases only those.

Ctrl-C (or SIGTERM) stops running runs cleanly and hands them back to the coordinator; a second one exits at once.
With --drain-grace S, on Ctrl-C or SIGUSR1 runs whose pace says they end within ${GRACE_SHARE}·S train on and are
reported first; SIGTERM (a kill on its way: scancel, a time limit) drains at once. Under SLURM (dlphys-coord
sweep --slurm writes this): sbatch --signal=B:USR1@S, the job script passing the USR1 on to the agent.`,
  )
  .action(async (flags: AgentFlags) => {
    parseAddress(flags.coord);
    const gpus = resolveGpus(flags.gpu);
    // A GPU host without tfjs-node-gpu can still run program sweeps (a PyTorch train.py): it
    // leases only those, rather than training dlphys's runs on its CPU without saying so.
    const programsOnly = gpus.length > 0 && !hasGpuBackend();
    const { interpreter, found } = resolveInterpreter(flags.interpreter);
    if (programsOnly && !found) throw new UsageError(`${GPU_BACKEND_MISSING}, and no python3 or python is on PATH for program sweeps (give --interpreter PATH): this agent could run nothing`);
    if (programsOnly) log(`warning: ${GPU_BACKEND_MISSING}; this agent runs program sweeps only`);
    if (!found) log("warning: no python3 or python on PATH: this agent runs dlphys's own sweeps only (give --interpreter PATH to run program sweeps)");
    // A wasm/cpu run is single-threaded, so a CPU-only host runs one per core.
    const slots = flags.slots ?? (gpus.length ? gpus.length : os.availableParallelism());
    const workDir = path.resolve(flags.workDir ?? path.join(os.tmpdir(), 'dlphys-agent', String(process.pid)));
    // Before anything else: a second agent on the same work dir refuses to start.
    const lock = lockWorkDir(workDir);
    const conn = connect(flags.coord, { token: flags.token, tlsCa: flags.tlsCa });
    const connectTimeoutS = flags.connectTimeout ?? (flags.exitWhenIdle ? IDLE_CONNECT_TIMEOUT_S : 0);
    const agent = new Agent({
      conn,
      gpus,
      slots,
      workDir,
      backend: gpus.length ? 'node-gpu' : 'auto',
      exitWhenIdle: flags.exitWhenIdle,
      uploadEverySec: flags.uploadEvery,
      pollMs: flags.poll,
      reuse: { ...DEFAULT_REUSE, maxRuns: flags.runsPerProcess, maxAgeMs: flags.runnerMaxMinutes * 60_000 },
      programsOnly,
      nativeOnly: !found,
      interpreter,
      wandbShim: flags.wandbShim,
      drainGraceSec: flags.drainGrace,
      connectTimeoutMs: connectTimeoutS * 1000,
      onHeartbeat: () => lock.touch(),
      log,
    });

    // SIGUSR1: a SLURM job's time-limit warning, passed on by its script: drain with the grace
    // (again: nothing more). Ctrl-C: drain with the grace. SIGTERM (scancel, the time limit itself,
    // systemd): a kill is on its way, drain at once. A second Ctrl-C or SIGTERM exits at once.
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      if (signal === 'SIGUSR1') return agent.drain(signal);
      if (++signals > 1) process.exit(130);
      agent.drain(signal, signal === 'SIGTERM' ? 0 : undefined);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('SIGUSR1', onSignal);
    try {
      await agent.run();
    } catch (err) {
      if (err instanceof AgentFatalError) throw new UsageError(err.message);
      throw err;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.off('SIGUSR1', onSignal);
      lock.release();
      conn.close();
    }
  });

await runProgram(program, process.argv.slice(2));
