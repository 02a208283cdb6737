import { Command } from 'commander';
import { runProgram } from './command.js';
import { listCommand } from './list.js';
import { scanCommand } from './scan.js';
import { trainCommand } from './train.js';
import { version } from '../version.js';

const program = new Command('dlphys')
  .description('A lab bench for deep-learning theory experiments: train from a JSON config, scan many run folders.')
  .version(version)
  .showSuggestionAfterError()
  .addCommand(trainCommand())
  .addCommand(scanCommand())
  .addCommand(listCommand())
  .addHelpText(
    'after',
    `
Examples:
  $ dlphys train examples/mlp.json
  $ dlphys train examples/mlp.json --set optimizer.kwargs.lr=0.1 --name lr0.1
  $ dlphys scan runs --metric val_acc --goal max
  $ dlphys list model`,
  );

await runProgram(program, process.argv.slice(2));
