import { Command, CommanderError } from 'commander';
import { RunFailedError, UsageError } from '../errors.js';

/**
 * Every command is a commander Command built by a function in its own file. Errors a user can
 * fix print as one line (`dlphys: ...`) with exit code 2; anything else is a bug and keeps its stack.
 */
export async function runProgram(program: Command, argv: readonly string[]): Promise<void> {
  // `... | head`: the reader has what it wanted; stop quietly instead of dying on EPIPE.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(process.exitCode ?? 0);
  });
  program.exitOverride();
  program.configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, `${program.name()}: `)) });
  // addCommand() does not pass these settings down the way command() does.
  for (const sub of program.commands) sub.copyInheritedSettings(program);
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander has already printed its message (or the help text).
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    if (err instanceof RunFailedError) {
      process.stderr.write(`${program.name()}: ${err.message}\n`);
      process.exitCode = 1;
      return;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`${program.name()}: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`${program.name()}: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  }
}
