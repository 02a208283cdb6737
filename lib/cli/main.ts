import { Command } from 'commander';
import { listCommand } from './list.js';
import { reportCommand } from './report.js';
import { scanCommand } from './scan.js';
import { theoryCommand } from './theory.js';
import { trainCommand } from './train.js';
import { version } from '../version.js';

/**
 * The dlphys program with the commands of the bench itself. bin/dlphys.js adds the commands that
 * live outside lib/ (the dashboard's `dash`) and runs it: lib/ never imports them.
 */
export function dlphysProgram(): Command {
  return new Command('dlphys')
    .description('A lab bench for deep-learning theory experiments: train from a JSON config, scan many run folders.')
    .version(version)
    .showSuggestionAfterError()
    .addCommand(trainCommand())
    .addCommand(scanCommand())
    .addCommand(reportCommand())
    .addCommand(listCommand())
    .addCommand(theoryCommand())
    .addHelpText(
      'after',
      `
Examples:
  $ dlphys train examples/mnist.json
  $ dlphys train examples/mlp.json --set optimizer.kwargs.lr=0.1 --name lr0.1
  $ dlphys scan runs --metric val_acc --goal max
  $ dlphys report runs/mnist_grid
  $ dlphys dash runs/mnist_grid
  $ dlphys list model
  $ dlphys theory --activation tanh --sigma-b2 0.05`,
    );
}
