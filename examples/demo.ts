/**
 * `npm run demo`: a coordinator and two local agents train examples/mnist_grid.json (9 MLPs on
 * real MNIST: init variance x depth), shown on the dashboard when stdout is a terminal and as
 * progress lines otherwise; then the scan table of what landed. It writes under runs/demo/, or
 * under `--dir DIR` (or $DLPHYS_DEMO_DIR), and starts over each time.
 *
 * Ctrl-C stops it cleanly: the agents drain first (each stops its run and hands it back to the
 * queue), then the coordinator, so the database holds no run as leased or running; the demo then
 * says so in one line and exits 130. A second Ctrl-C kills everything at once. The children run
 * in process groups of their own so that a terminal's Ctrl-C reaches only the demo, which stops
 * them in that order (an agent given two signals would exit without handing its runs back).
 */
import Database from 'better-sqlite3';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { scanRuns } from '../lib/scan/scan.js';
import { bestOf } from '../lib/scan/read_run.js';
import { textTable } from '../lib/text_table.js';
import { loadDashboard } from '../tui/cli/load_dashboard.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = (name: string) => path.join(root, 'bin', `${name}.js`);
const SWEEP_FILE = path.join(root, 'examples', 'mnist_grid.json');
const SWEEP = 'mnist_grid';

const { values: args } = parseArgs({ options: { dir: { type: 'string' } } });
const demoDir = path.resolve(args.dir ?? process.env.DLPHYS_DEMO_DIR ?? path.join(root, 'runs', 'demo'));
const db = path.join(demoDir, 'dlphys.db');
const logDir = path.join(demoDir, 'logs');
const shown = (p: string) => path.relative(process.cwd(), p) || p;

// Only what an earlier demo wrote goes: --dir may name a folder that holds other things.
for (const p of [`${db}`, `${db}-wal`, `${db}-shm`, path.join(demoDir, SWEEP), logDir]) fs.rmSync(p, { recursive: true, force: true });
fs.mkdirSync(logDir, { recursive: true });

interface Child {
  label: string;
  child: ChildProcess;
  exited: Promise<number>;
}

const children: Child[] = [];
process.on('exit', () => {
  for (const c of children) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
});

/** Where the children's log lines go: the terminal (plain mode), or a file each while the dashboard holds the screen. */
let toFiles = false;

function start(label: string, args: string[], onLine?: (line: string) => void): Child {
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const file = path.join(logDir, `${label}.log`);
  const forward = (line: string) => {
    onLine?.(line);
    if (toFiles) fs.appendFileSync(file, `${line}\n`);
    else process.stderr.write(`[${label}] ${line}\n`);
  };
  readline.createInterface({ input: child.stderr! }).on('line', forward);
  readline.createInterface({ input: child.stdout! }).on('line', forward);
  const exited = new Promise<number>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1))));
  const c = { label, child, exited };
  children.push(c);
  return c;
}

let interrupted = false;
let agents: Child[] = [];
let coord: Child;

/** First call: the agents drain, then the coordinator stops. Second call: everything is killed. */
function stop(): void {
  if (interrupted) {
    process.stderr.write('demo: killing everything now\n');
    for (const c of children) c.child.kill('SIGKILL');
    return;
  }
  interrupted = true;
  if (!toFiles) process.stderr.write('\ndemo: stopping: the agents hand their runs back, then the coordinator stops (Ctrl-C again to kill at once)\n');
  for (const a of agents) a.child.kill('SIGINT');
  // The coordinator last: the agents' hand-backs need it to answer.
  void Promise.all(agents.map((a) => a.exited)).then(() => coord.child.kill('SIGINT'));
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, stop);

const wantDash = process.stdout.isTTY === true;
const loaded = wantDash ? await loadDashboard() : null;
if (loaded && !loaded.ok) process.stderr.write(`demo: ${loaded.why}; printing progress lines instead\n`);
const dashboard = loaded?.ok ? loaded.dashboard : null;

let serving: (address: string) => void = () => {};
const address = new Promise<string>((resolve) => (serving = resolve));
coord = start('coord', [bin('dlphys-coord'), 'sweep', SWEEP_FILE, '--port', '0', '--db', db, '--runs-dir', demoDir, '--exit-when-done', '--no-dash'], (line) => {
  const m = /serving on (\S+?);/.exec(line);
  if (m) serving(m[1]!);
});
const served = await Promise.race([address, coord.exited.then(() => null)]);
if (served === null || interrupted) await finish(served === null && !interrupted ? 'the coordinator exited before serving' : null);
else {
  // Every line a child writes from here on would tear the dashboard's screen.
  if (dashboard) toFiles = true;
  // One slot each: two runs at a time on two cores, each on its own core.
  agents = [1, 2].map((i) => start(`agent${i}`, [bin('dlphys-agent'), '--coord', served, '--exit-when-idle', '--poll', '200', '--slots', '1']));
  void coord.exited.then((code) => {
    // A coordinator gone for good leaves the agents nothing to do: they drain and exit.
    if (code !== 0 && !interrupted) stop();
  });
  if (dashboard) await showDashboard(dashboard, served);
  await finish(null);
}

/** The dashboard until the coordinator exits; closing it first (q, Ctrl-C in it) stops the demo. */
async function showDashboard(d: NonNullable<typeof dashboard>, at: string): Promise<void> {
  const close = new AbortController();
  void coord.exited.then(() => close.abort());
  await d.runDashboard(d.coordinatorSource(at), { signal: close.signal });
  if (coord.child.exitCode === null) stop();
}

async function finish(failure: string | null): Promise<void> {
  const codes = await Promise.all(children.map((c) => c.exited));
  toFiles = false;
  if (interrupted) {
    process.stderr.write(`demo: interrupted; ${countsLine()} in ${shown(db)} (npm run demo starts over)\n`);
    process.exitCode = 130;
    return;
  }
  if (failure || codes.some((c) => c !== 0)) {
    const labels = children.map((c, i) => `${c.label} ${codes[i]}`).join(', ');
    process.stderr.write(`demo: ${failure ?? 'a process failed'} (exit codes: ${labels}); logs above${dashboard ? ` and in ${shown(logDir)}/` : ''}\n`);
    process.exitCode = 1;
    return;
  }
  process.stderr.write('\n');
  const scan = spawnSync(process.execPath, [bin('dlphys'), 'scan', path.join(demoDir, SWEEP), '--metric', 'val_acc', '--goal', 'max'], { cwd: root, stdio: 'inherit' });
  process.stderr.write(`\n${phaseGrid(path.join(demoDir, SWEEP)).join('\n')}\n`);
  process.stderr.write(`\nrun folders: ${shown(path.join(demoDir, SWEEP))}/   database: ${shown(db)}${dashboard ? `   logs: ${shown(logDir)}/` : ''}\n`);
  process.exitCode = scan.status ?? 1;
}

/** "4 of 9 runs finished, 5 queued": what the database holds, read-only. */
function countsLine(): string {
  if (!fs.existsSync(db)) return 'nothing was recorded';
  const conn = new Database(db, { readonly: true, fileMustExist: true });
  try {
    const rows = conn.prepare('SELECT state, count(*) AS n FROM runs GROUP BY state').all() as { state: string; n: number }[];
    const n = Object.fromEntries(rows.map((r) => [r.state, r.n]));
    const total = rows.reduce((s, r) => s + r.n, 0);
    const finished = total - (n.queued ?? 0) - (n.leased ?? 0) - (n.running ?? 0);
    const held = (n.leased ?? 0) + (n.running ?? 0);
    return `${finished} of ${total} runs finished, ${n.queued ?? 0} queued${held ? `, ${held} still marked running` : ''}`;
  } finally {
    conn.close();
  }
}

/**
 * Best val_acc with depth down and sigma_w2 across: the sweep's phase diagram, which the scan
 * table (whose widths column is cut) does not show at a glance.
 */
function phaseGrid(dir: string): string[] {
  const { runs } = scanRuns(dir);
  const cell = new Map<string, string>();
  const depths = new Set<number>();
  const sigmas = new Set<number>();
  for (const run of runs) {
    const model = run.config.model as { kwargs?: { widths?: number[] } } | undefined;
    const init = run.config.init as { kwargs?: { sigma_w2?: number } } | undefined;
    const depth = (model?.kwargs?.widths?.length ?? 2) - 2;
    const sigma = init?.kwargs?.sigma_w2 ?? NaN;
    depths.add(depth);
    sigmas.add(sigma);
    const acc = bestOf(run, 'val_acc', 'max');
    cell.set(`${depth}/${sigma}`, acc === undefined ? '-' : acc.toFixed(3));
  }
  const ds = [...depths].sort((a, b) => a - b);
  const ss = [...sigmas].sort((a, b) => a - b);
  const rows = [['hidden layers', ...ss.map((s) => `sigma_w2 ${s}`)], ...ds.map((d) => [String(d), ...ss.map((s) => cell.get(`${d}/${s}`) ?? '-')])];
  return ['best val_acc by depth and init variance (tanh: critical at sigma_w2 = 1)', ...textTable(rows, { right: rows[0]!.map(() => true) })];
}
