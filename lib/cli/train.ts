import { Command, Option } from 'commander';
import path from 'node:path';
import { BACKENDS, NATIVE_INSTALL_HINT, type BackendChoice } from '../backend/index.js';
import { progressCallback } from '../callbacks/progress.js';
import { loadRawConfig } from '../config.js';
import { trainRun } from '../run/train_run.js';
import { parseThreads } from '../backend/threads.js';
import type { Trainer } from '../training/trainer.js';
import { collect } from './flags.js';

interface TrainFlags {
  runsDir: string;
  name?: string;
  backend: BackendChoice;
  threads?: number;
  set: string[];
  overwrite: boolean;
  quiet: boolean;
}

export function trainCommand(): Command {
  return new Command('train')
    .description('Train one run from a JSON config into <runs-dir>/<name>/ (config.json, train.log, metrics.jsonl, summary.json).')
    .argument('<config>', 'experiment config (JSON)')
    .option('--runs-dir <dir>', 'where run folders go', 'runs')
    .option('--name <name>', "run folder name (default: the config's name, else the file's base name)")
    .addOption(new Option('--backend <backend>', 'tensor backend; auto takes the best installed').choices(BACKENDS).default('auto'))
    .addOption(
      new Option('--threads <n>', 'threads for the wasm backend (default: $DLPHYS_THREADS, else every core; an agent gives each run its share)').argParser((v) =>
        parseThreads(v, '--threads'),
      ),
    )
    .option('--set <path=value>', 'override a config value by dotted path, JSON-typed (repeatable)', collect, [])
    .option('--overwrite', 'replace an existing run folder of the same name', false)
    .option('-q, --quiet', 'no progress line', false)
    .addHelpText(
      'after',
      `
Examples:
  $ dlphys train examples/mlp.json
  $ dlphys train examples/mlp.json --set optimizer.kwargs.lr=0.1 --set model.kwargs.activation=tanh --name tanh-lr0.1
  $ dlphys train examples/mlp.json --backend cpu --runs-dir /scratch/runs --overwrite

Backends: auto picks node-gpu > node > wasm > cpu. The native ones are optional packages:
  ${NATIVE_INSTALL_HINT}

Exit codes: 0 completed, diverged or stopped (results); 1 the run failed; 2 bad input (nothing written).`,
    )
    .action(async (configFile: string, flags: TrainFlags) => {
      let trainer: Trainer | undefined;
      let interrupts = 0;
      // First Ctrl-C ends the run cleanly (status stopped, summary written); a second one aborts.
      const onSignal = (signal: NodeJS.Signals) => {
        interrupts += 1;
        if (interrupts > 1) process.exit(130);
        process.stderr.write(`\n${signal}: stopping after this step (again to abort)\n`);
        trainer?.requestStop(`interrupted by ${signal}`);
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        const { raw, baseDir } = loadRawConfig(configFile, flags.set);
        const { runDir } = await trainRun({
          raw,
          source: configFile,
          baseDir,
          runsDir: flags.runsDir,
          ...(flags.name !== undefined ? { name: flags.name } : {}),
          overwrite: flags.overwrite,
          backend: flags.backend,
          ...(flags.threads !== undefined ? { threads: flags.threads } : {}),
          extraCallbacks: flags.quiet ? [] : [{ name: 'progress', callback: progressCallback({ everySec: 5 }) }],
          onTrainer: (t) => (trainer = t),
        });
        if (!flags.quiet) process.stderr.write(`run folder: ${path.relative(process.cwd(), runDir) || runDir}\n`);
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
