import fs from 'node:fs';
import { Option, type Command } from 'commander';
import { UsageError } from '../errors.js';

/**
 * `--token T` shows the secret to every local user in the process list; `--token-file FILE` (or
 * DLPHYS_TOKEN_FILE) keeps it in a file only its owner can read. Both options are added here,
 * and a preAction hook reads the file into the command's `token` option, so commands keep using
 * `flags.token` whichever way it came.
 */
export function addTokenOptions(cmd: Command, description: string): Command {
  return cmd
    .addOption(new Option('--token <token>', `${description} (visible in the process list: prefer --token-file)`).env('DLPHYS_TOKEN'))
    .addOption(new Option('--token-file <file>', `file holding ${description}, readable by its owner only (chmod 600)`).env('DLPHYS_TOKEN_FILE'))
    .hook('preAction', (_parent, action) => applyTokenFile(action));
}

/**
 * Resolves --token-file into --token. Given both the same way (both flags, or both variables) is
 * a mistake; a flag beats a variable, as for every other option.
 */
export function applyTokenFile(cmd: Command): void {
  const file = cmd.getOptionValue('tokenFile') as string | undefined;
  if (file === undefined) return;
  const token = cmd.getOptionValue('token') as string | undefined;
  const fileSource = cmd.getOptionValueSource('tokenFile');
  const tokenSource = cmd.getOptionValueSource('token');
  if (token !== undefined) {
    if (fileSource === tokenSource) {
      const both = fileSource === 'env' ? 'DLPHYS_TOKEN and DLPHYS_TOKEN_FILE are both set' : '--token and --token-file are both given';
      throw new UsageError(`${both}; keep only --token-file FILE (a token on the command line is visible to every local user)`);
    }
    if (tokenSource !== 'env') return;
  }
  cmd.setOptionValueWithSource('token', readTokenFile(file), fileSource ?? 'cli');
}

/** The secret in `file`, its trailing newline removed; refused when others can read the file or it is empty. */
export function readTokenFile(file: string): string {
  let text: string;
  try {
    const st = fs.statSync(file);
    if (st.isDirectory()) throw new UsageError(`token file ${file} is a directory; give the file that holds the token`);
    // Group and other bits, not only read: a file others may rewrite is no safer.
    if ((st.mode & 0o077) !== 0) throw new UsageError(`token file ${file} is readable by other users; chmod 600 ${file}`);
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot read token file ${file}: ${code === 'ENOENT' ? 'no such file' : (code ?? (err as Error).message)}; check the path of --token-file`);
  }
  const token = text.replace(/\r?\n$/, '');
  if (token.trim() === '') throw new UsageError(`token file ${file} is empty; write the shared secret into it (one line)`);
  return token;
}
