/**
 * `npm run demo`: a coordinator and two local agents run examples/grid.json (12 small runs) to
 * completion, then the scan table of what landed. Everything goes under runs/demo/.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = (name: string) => path.join(root, 'bin', `${name}.js`);
const demoDir = path.join(root, 'runs', 'demo');

fs.rmSync(demoDir, { recursive: true, force: true });
const children: ChildProcess[] = [];
process.on('SIGINT', () => children.forEach((c) => c.kill('SIGINT')));

function start(label: string, args: string[]): { child: ChildProcess; exited: Promise<number> } {
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'inherit', 'pipe'] });
  children.push(child);
  readline.createInterface({ input: child.stderr! }).on('line', (line) => process.stderr.write(`[${label}] ${line}\n`));
  return { child, exited: new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 1))) };
}

const coord = start('coord', [bin('dlphys-coord'), 'sweep', 'examples/grid.json', '--port', '0', '--db', path.join(demoDir, 'dlphys.db'), '--runs-dir', demoDir, '--exit-when-done']);
const address = await new Promise<string>((resolve, reject) => {
  readline.createInterface({ input: coord.child.stderr! }).on('line', (line) => {
    const m = /serving on (\S+?);/.exec(line);
    if (m) resolve(m[1]!);
  });
  void coord.exited.then((code) => reject(new Error(`the coordinator exited with code ${code} before serving`)));
});
const agents = [1, 2].map((i) => start(`agent${i}`, [bin('dlphys-agent'), '--coord', address, '--exit-when-idle', '--poll', '200']));
const codes = await Promise.all([coord.exited, ...agents.map((a) => a.exited)]);
if (codes.some((c) => c !== 0)) {
  process.stderr.write(`demo: a process failed (exit codes ${codes.join(', ')})\n`);
  process.exit(1);
}
process.stderr.write('\n');
const scan = spawnSync(process.execPath, [bin('dlphys'), 'scan', path.join(demoDir, 'grid'), '--metric', 'val_acc', '--goal', 'max'], { cwd: root, stdio: 'inherit' });
process.stderr.write(`\nrun folders: runs/demo/grid/   database: runs/demo/dlphys.db\n`);
process.exitCode = scan.status ?? 1;
