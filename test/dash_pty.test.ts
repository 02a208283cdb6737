/**
 * The real `dlphys-coord dash` in a real pseudo-terminal (tmux, 100x30) against a live sweep: the
 * sweep, its agent with CPU and RAM, and, after enter on a run, that run's braille charts are on
 * the screen, read back with tmux's capture of it. Skipped where tmux is not installed.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { serveSweep, startOneSlotAgent, tinySweep, waitFor, withCluster, workspace } from './cluster.js';
import { repoRoot } from './helpers.js';

const hasTmux = spawnSync('tmux', ['-V']).status === 0;

function tmux(...args: string[]): string {
  const r = spawnSync('tmux', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

test('dlphys-coord dash in a 100x30 terminal shows the sweep, its agent with CPU and RAM, and a run\'s chart', { skip: !hasTmux && 'tmux is not installed' }, async () => {
  const ws = workspace(tinySweep({ name: 'ptysweep', runs: 3, steps: 300, logEvery: 5 }));
  const session = `dlphys-test-${process.pid}`;
  await withCluster(async (c) => {
    const coord = await serveSweep(c, ws);
    c.track('agent', startOneSlotAgent(coord.address));
    const dash = `${process.execPath} ${path.join(repoRoot, 'bin', 'dlphys-coord.js')} dash --coord ${coord.address}`;
    // The pane stays after the command ends, so a crash is still on screen to be read.
    // From the sweep's folder, not the package's: a user's project folder has no tsconfig of ours.
    tmux('new-session', '-d', '-s', session, '-x', '100', '-y', '30', '-c', ws.dir, `${dash}; echo "dash exited $?"; sleep 60`);
    try {
      const screen = () => tmux('capture-pane', '-p', '-t', session);
      const until = (what: string, check: (s: string) => boolean) =>
        waitFor(what, () => check(screen()), 90_000, () => `screen:\n${screen()}\n${c.logs()}`);
      await until('the sweep and a completed run', (s) => /ptysweep/.test(s) && /r000 +completed/.test(s));
      await until('the agent with its CPU and RAM', (s) => /cpu \d+%/.test(s) && /ram [\d.]+[KMGT]?\/[\d.]+[KMGT]/.test(s));
      tmux('send-keys', '-t', session, 'Enter');
      await until("r000's detail with braille charts", (s) => /run ptysweep\/r000/.test(s) && /[\u2801-\u28ff]/.test(s) && /loss/.test(s));
      tmux('send-keys', '-t', session, 'Escape');
      tmux('send-keys', '-t', session, 'q');
      await until('the dashboard quit with q', (s) => /dash exited 0/.test(s));
    } finally {
      spawnSync('tmux', ['kill-session', '-t', session]);
    }
  });
});
