/**
 * runDashboard(source): the dashboard in the terminal until the user quits. Every front door
 * calls this with its own source: `dlphys-coord dash` (a coordinator), `dlphys dash DIR` (run
 * folders), `dlphys-coord sweep` on a terminal (its own coordinator).
 */
import { render } from 'ink';
import { colorEnabled } from './color.js';
import { App } from './components/App.js';
import type { DashSource } from './source.js';

/** Where the dashboard draws and reads keys, and whether in colour. */
export interface DashboardOptions {
  /** @default process.stdout */
  readonly stdout?: NodeJS.WriteStream;
  /** @default process.stdin */
  readonly stdin?: NodeJS.ReadStream;
  /** @default colorEnabled(stdout): off under NO_COLOR or when stdout is not a terminal */
  readonly color?: boolean;
  /** Ends the dashboard as a user quitting it would: the job it watched is over (the demo, dlphys-coord sweep). */
  readonly signal?: AbortSignal;
}

/**
 * Renders the dashboard of `source` and resolves once the user quits (q, or ctrl-c), with the
 * terminal given back as it was. It renders without a terminal too (output to a file, keys from
 * a pipe: then it shows and never hears a key, and ends with the process).
 */
export async function runDashboard(source: DashSource, options: DashboardOptions = {}): Promise<void> {
  const stdout = options.stdout ?? process.stdout;
  const instance = render(<App source={source} color={options.color ?? colorEnabled(stdout)} />, {
    stdout,
    stdin: options.stdin ?? process.stdin,
    exitOnCtrlC: true,
    // Data is batched to 10 fps already (useDash); this caps redraws from keys and the clock too.
    maxFps: 10,
  });
  const end = () => instance.unmount();
  if (options.signal?.aborted) end();
  options.signal?.addEventListener('abort', end, { once: true });
  try {
    await instance.waitUntilExit();
  } finally {
    options.signal?.removeEventListener('abort', end);
  }
}
