/**
 * `dlphys-coord sweep` and its dashboard: --no-dash is there, and with a dashboard (a scripted
 * one here, in the coordinator's process as on a terminal) the coordinator's log goes to
 * <runs-dir>/<sweep>/coordinator.log, the dashboard is fed from the coordinator's own address,
 * closing it stops the coordinator, and the coordinator finishing closes it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { runCoordinatorWithDashboard } from '../coordinator/cli/sweep_dash.js';
import type { ListenFlags } from '../coordinator/listen_options.js';
import { loadSweep } from '../lib/sweep/index.js';
import type { Dashboard, DashOptions } from '../tui/cli/load_dashboard.js';
import type { DashSource } from '../tui/source.js';
import { startOneSlotAgent, tinySweep, within, workspace } from './cluster.js';
import { repoRoot } from './helpers.js';

const COORD = path.join(repoRoot, 'bin', 'dlphys-coord.js');

test('dlphys-coord sweep lists --no-dash in its help and accepts it', () => {
  const help = spawnSync(process.execPath, [COORD, 'sweep', '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /--no-dash\s+progress lines on stderr even on a terminal/);
  const ws = workspace(tinySweep({ runs: 2 }));
  const dry = spawnSync(process.execPath, [COORD, 'sweep', ws.sweepFile, '--no-dash', '--dry-run'], { encoding: 'utf8' });
  assert.equal(dry.status, 0, dry.stderr);
  assert.match(dry.stderr, /sweep tiny: 2 runs \(grid\); nothing recorded/);
});

/** A dashboard that records what it was given and stays up until `quit` or its signal. */
function scriptedDashboard() {
  const seen = { address: '', shown: false, closedBySignal: false };
  let quit = () => {};
  const dashboard: Dashboard = {
    coordinatorSource(address: string): DashSource {
      seen.address = address;
      return { label: address, start: () => () => {}, runDetail: () => Promise.reject(new Error('not here')) };
    },
    runDashboard(_source: DashSource, opts?: DashOptions) {
      seen.shown = true;
      return new Promise<void>((resolve) => {
        let open = true;
        quit = () => {
          open = false;
          resolve();
        };
        opts?.signal?.addEventListener('abort', () => {
          if (open) seen.closedBySignal = true;
          open = false;
          resolve();
        });
      });
    },
  };
  return { dashboard, seen, quit: () => quit() };
}

function listenFlags(ws: ReturnType<typeof workspace>, exitWhenDone: boolean): ListenFlags {
  return {
    host: '127.0.0.1',
    port: 0,
    db: ws.db,
    runsDir: ws.runsDir,
    leaseTtl: 3,
    maxAttempts: 3,
    maxUploadMb: 64,
    exitWhenDone,
    report: false,
    uploadIdle: 60,
    watchMax: 16,
    watchBufferKb: 256,
    watchStall: 30,
  };
}

/** Runs `fn` with stderr captured: the coordinator's log must not reach it while a dashboard shows. */
async function capturingStderr<T>(fn: () => Promise<T>): Promise<{ value: T; stderr: string }> {
  const write = process.stderr.write.bind(process.stderr);
  let stderr = '';
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += chunk.toString();
    return true;
  }) as typeof process.stderr.write;
  try {
    return { value: await fn(), stderr };
  } finally {
    process.stderr.write = write;
  }
}

test('with a dashboard: the log goes to <runs-dir>/<sweep>/coordinator.log, and quitting the dashboard stops the coordinator', async () => {
  const ws = workspace(tinySweep({ runs: 2 }));
  const d = scriptedDashboard();
  const logFile = path.join(ws.runsDir, 'tiny', 'coordinator.log');
  const { stderr } = await capturingStderr(async () => {
    const running = runCoordinatorWithDashboard({ flags: listenFlags(ws, false), sweep: loadSweep(ws.sweepFile) }, d.dashboard);
    // The user quits as soon as the dashboard shows.
    await within('the dashboard to show', new Promise<void>((resolve) => {
      const check = setInterval(() => d.seen.shown && (clearInterval(check), resolve()), 20);
    }), 30_000);
    d.quit();
    await within('the coordinator to stop', running, 30_000);
  });
  const log = fs.readFileSync(logFile, 'utf8');
  const port = /serving on 127\.0\.0\.1:(\d+);/.exec(log)?.[1];
  assert.ok(port, log);
  assert.equal(d.seen.address, `127.0.0.1:${port}`);
  assert.match(log, /sweep tiny: 2 runs recorded in /);
  assert.match(log, /the dashboard was closed: shutting down/);
  assert.equal(d.seen.closedBySignal, false);
  // stderr holds where the log is, and nothing of the log itself.
  assert.deepEqual(stderr.trim().split('\n').map((l) => l.replace(/^\d\d:\d\d:\d\d /, '')), [`coordinator log: ${logFile}`, `coordinator log: ${logFile}`]);
});

test('with a dashboard and --exit-when-done: the sweep finishing closes the dashboard', async () => {
  const ws = workspace(tinySweep({ runs: 2, steps: 20 }));
  const d = scriptedDashboard();
  let agent: ReturnType<typeof startOneSlotAgent> | undefined;
  const dashboard: Dashboard = {
    ...d.dashboard,
    coordinatorSource(address) {
      // A real agent, as on another host, trains the sweep meanwhile.
      agent = startOneSlotAgent(address, ['--exit-when-idle']);
      return d.dashboard.coordinatorSource(address);
    },
  };
  try {
    await capturingStderr(() =>
      within('the sweep to finish', runCoordinatorWithDashboard({ flags: listenFlags(ws, true), sweep: loadSweep(ws.sweepFile) }, dashboard), 120_000, () => agent?.log() ?? ''),
    );
    assert.equal(d.seen.closedBySignal, true);
    assert.match(fs.readFileSync(path.join(ws.runsDir, 'tiny', 'coordinator.log'), 'utf8'), /every run has finished: exiting/);
    assert.equal(await within('the agent to exit', agent!.exited, 30_000, agent!.log), 0);
  } finally {
    agent?.kill('SIGKILL');
  }
});
