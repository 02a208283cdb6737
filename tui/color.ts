/**
 * Whether the dashboard draws in colour: not when NO_COLOR is set (https://no-color.org), not
 * when its output is not a terminal (a log file would fill with escape codes); FORCE_COLOR wins
 * over both, as it does for chalk, which Ink draws with.
 */

/** True when colour should be used on `stream` under `env`. */
export function colorEnabled(stream: { readonly isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force !== 'false';
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return stream.isTTY === true;
}
