import * as grpc from '@grpc/grpc-js';
import { Command } from 'commander';
import { runProgram } from '../../lib/cli/command.js';
import { version } from '../../lib/version.js';
import { cancelCommand, retryCommand } from './cancel_retry.js';
import { serveCommand } from './serve.js';
import { slurmCommand } from './slurm.js';
import { statusCommand } from './status.js';
import { submitCommand } from './submit.js';
import { sweepCommand } from './sweep.js';
import { dashCommand } from '../../tui/cli/dash.js';

const program = new Command('dlphys-coord')
  .description('The head node: records sweeps in SQLite and serves their runs to dlphys-agent processes over gRPC.')
  .version(version)
  .showSuggestionAfterError()
  .addCommand(sweepCommand())
  .addCommand(submitCommand())
  .addCommand(serveCommand())
  .addCommand(statusCommand())
  .addCommand(slurmCommand())
  .addCommand(cancelCommand())
  .addCommand(retryCommand())
  .addCommand(dashCommand())
  .addHelpText(
    'after',
    `
Examples:
  $ dlphys-coord sweep examples/grid.json                          # on the head node
  $ dlphys-agent --coord head:50051 --gpu 0 --token-file TOKEN     # on each GPU host
  $ dlphys-coord submit examples/random.json --coord 127.0.0.1:50051   # one more sweep for it
  $ dlphys-coord status`,
  );

// grpc-js's own log lines ("No address added...") would duplicate the one-line errors we print.
grpc.setLogVerbosity(grpc.logVerbosity.NONE);
await runProgram(program, process.argv.slice(2));
