/**
 * The user-facing edges of `dlphys-coord` and `dlphys-agent`: token files, explicit submission,
 * database paths, and what status and retry print. Real processes on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { coordCommand, runStates, startAgent, startCoordinator, tinySweep, withCluster, workspace } from './cluster.js';
import { repoRoot, tempDir, writeText } from './helpers.js';

const COORD = path.join(repoRoot, 'bin', 'dlphys-coord.js');
const AGENT = path.join(repoRoot, 'bin', 'dlphys-agent.js');

function run(bin: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [bin, ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
}

/** Asserts exit code 2 and exactly one stderr line, `<bin>: ...`, matching `pattern`. */
function oneLine(r: { status: number | null; stderr: string }, pattern: RegExp, what = ''): void {
  assert.equal(r.status, 2, `${what} exit code; stderr:\n${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `${what} one line, got:\n${r.stderr}`);
  assert.match(lines[0]!, /^dlphys-(coord|agent): /, what);
  assert.match(lines[0]!, pattern, what);
}

function tokenFile(content: string, mode = 0o600): string {
  const file = writeText(path.join(tempDir(), 'token'), content);
  fs.chmodSync(file, mode);
  return file;
}

test('a token file readable by others, an empty one, a missing one, or both --token and --token-file is one line and exit 2', () => {
  const open = tokenFile('s3cret\n', 0o644);
  oneLine(run(COORD, ['status', '--token-file', open]), new RegExp(`token file ${open} is readable by other users; chmod 600 ${open}$`), 'status 0644');
  oneLine(run(AGENT, ['--token-file', open]), /is readable by other users; chmod 600/, 'agent 0644');
  oneLine(run(COORD, ['serve', '--port', '0', '--db', path.join(tempDir(), 'x.db'), '--token-file', tokenFile('', 0o640)]), /readable by other users/, 'group');
  oneLine(run(COORD, ['status', '--token-file', tokenFile('\n')]), /token file .* is empty; write the shared secret into it/, 'empty');
  oneLine(run(COORD, ['status'], { DLPHYS_TOKEN_FILE: '/nonexistent/token' }), /cannot read token file \/nonexistent\/token: no such file/, 'missing');
  oneLine(run(COORD, ['status', '--token', 'x', '--token-file', tokenFile('y')]), /--token and --token-file are both given; keep only --token-file/, 'both');
  oneLine(run(AGENT, [], { DLPHYS_TOKEN: 'x', DLPHYS_TOKEN_FILE: tokenFile('y') }), /DLPHYS_TOKEN and DLPHYS_TOKEN_FILE are both set/, 'both in env');
});

test('--token-file and DLPHYS_TOKEN_FILE carry the token (trailing newline trimmed) to the coordinator, clients and agents', async () => {
  const ws = workspace(tinySweep({ name: 'tok', runs: 1, steps: 10 }));
  const file = tokenFile('s3cret\n');
  await withCluster(async (c) => {
    const coord = c.track('coordinator', await startCoordinator(['sweep', ws.sweepFile, '--port', '0', '--db', ws.db, '--runs-dir', ws.runsDir, '--token-file', file]));
    assert.doesNotMatch(fs.readFileSync(`/proc/${coord.child.pid}/cmdline`, 'utf8'), /s3cret/, 'the token is not in the process list');
    const without = await coordCommand(['status', '--coord', coord.address]);
    assert.equal(without.status, 2, without.stderr);
    assert.match(without.stderr, /refused the token/);
    const byValue = await coordCommand(['status', '--coord', coord.address, '--token', 's3cret']);
    assert.equal(byValue.status, 0, `the file's token is s3cret without its newline: ${byValue.stderr}`);
    const byFile = await coordCommand(['status', '--coord', coord.address, '--token-file', file]);
    assert.equal(byFile.status, 0, byFile.stderr);
    // A flag beats the variable, as for every other option.
    const flagWins = await coordCommand(['status', '--coord', coord.address, '--token-file', file], { DLPHYS_TOKEN: 'wrong' });
    assert.equal(flagWins.status, 0, flagWins.stderr);
    const agent = c.track('agent', startAgent(coord.address, ['--slots', '1', '--exit-when-idle'], { DLPHYS_TOKEN_FILE: file }));
    assert.equal(await agent.exited, 0, c.logs());
    assert.deepEqual(runStates(ws.db), { 'tok/r000': 'completed' });
  });
});

test('sweep on a port something else holds sends it nothing: one line naming dlphys-coord submit, and nothing created', async () => {
  const ws = workspace(tinySweep());
  let connections = 0;
  const squatter = net.createServer((socket) => {
    connections += 1;
    socket.destroy();
  });
  await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
  const port = (squatter.address() as net.AddressInfo).port;
  try {
    const r = await coordCommand(['sweep', ws.sweepFile, '--port', String(port), '--token', 'never-sent', '--db', ws.db, '--runs-dir', ws.runsDir]);
    oneLine(r, new RegExp(`the port is in use; to add this sweep to a coordinator there, run dlphys-coord submit ${ws.sweepFile.replace(/[.\\/]/g, '\\$&')} --coord 127\\.0\\.0\\.1:${port}; else choose another --port`));
    assert.equal(connections, 0, 'nothing connected to the listener on the port');
    assert.equal(fs.existsSync(ws.db), false);
    assert.equal(fs.existsSync(ws.runsDir), false);
  } finally {
    squatter.close();
  }
});

test('submit needs --coord, takes no --db/--runs-dir/--exit-when-done, and says so in its help', () => {
  const ws = workspace(tinySweep());
  oneLine(run(COORD, ['submit', ws.sweepFile]), /required option '--coord <host:port>'/, 'no --coord');
  oneLine(run(COORD, ['submit', ws.sweepFile, '--coord', '127.0.0.1:1', '--db', ws.db]), /unknown option '--db'/, '--db');
  const help = run(COORD, ['submit', '--help']);
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout.replace(/\s+/g, ' '), /takes no --db, --runs-dir or --exit-when-done/);
  assert.match(help.stdout, /--token-file <file>/);
  oneLine(run(COORD, ['submit', ws.sweepFile, '--coord', '127.0.0.1:1']), /no coordinator answers at 127\.0\.0\.1:1/, 'nobody there');
});

/** Runs as an unprivileged user when the tests run as root, for whom no folder is read-only. */
function asUser(): { uid?: number; gid?: number } {
  return process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
}

test('a --db in a folder that cannot be written, or naming a directory, is one line, exit 2, and creates nothing', () => {
  const readOnly = tempDir();
  fs.chmodSync(readOnly, 0o555);
  const runsDir = path.join(tempDir(), 'runs');
  fs.chmodSync(path.dirname(runsDir), 0o777);
  const cases: [string, string, RegExp][] = [
    ['a read-only folder', path.join(readOnly, 'dlphys.db'), /cannot create .*: .* is not writable; choose another --db$/],
    ['a new folder under a read-only one', path.join(readOnly, 'sub', 'dlphys.db'), /is not writable; choose another --db$/],
    ['a directory', tempDir(), /--db .* is a directory; give a file path such as .*dlphys\.db$/],
  ];
  for (const [what, db, pattern] of cases) {
    const r = spawnSync(process.execPath, [COORD, 'serve', '--port', '0', '--db', db, '--runs-dir', runsDir], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: 60_000,
      ...(what === 'a directory' ? {} : asUser()),
    });
    oneLine(r, pattern, what);
    assert.equal(fs.existsSync(runsDir), false, `${what}: no runs dir`);
  }
  assert.deepEqual(fs.readdirSync(readOnly), [], 'nothing created in the read-only folder');
});

test('status --json gives params and summary as objects; retry or cancel that changes nothing says why', async () => {
  const ws = workspace(tinySweep({ name: 'done', runs: 1, steps: 10 }));
  await withCluster(async (c) => {
    const coord = c.track('coordinator', await startCoordinator(['sweep', ws.sweepFile, '--port', '0', '--db', ws.db, '--runs-dir', ws.runsDir]));
    const agent = c.track('agent', startAgent(coord.address, ['--slots', '1', '--exit-when-idle']));
    assert.equal(await agent.exited, 0, c.logs());

    const status = await coordCommand(['status', 'done', '--coord', coord.address, '--json']);
    assert.equal(status.status, 0, status.stderr);
    const run = JSON.parse(status.stdout).runs[0];
    assert.deepEqual(run.params, { seed: 0 });
    assert.equal(run.summary.status, 'completed');
    assert.equal(run.summary.steps, 10);
    assert.equal('params_json' in run || 'summary_json' in run, false, 'no JSON-in-a-string fields');

    const one = await coordCommand(['retry', 'done/r000', '--coord', coord.address]);
    assert.equal(one.status, 0, one.stderr);
    assert.equal(one.stdout, 'nothing to retry: run done/r000 is completed; retry takes failed or cancelled runs\n');
    const sweep = await coordCommand(['retry', 'done', '--coord', coord.address]);
    assert.equal(sweep.stdout, 'nothing to retry: sweep done has 1 completed; retry takes failed or cancelled runs\n');
    const cancel = await coordCommand(['cancel', 'done/r000', '--coord', coord.address]);
    assert.equal(cancel.status, 0, cancel.stderr);
    assert.equal(cancel.stdout, 'nothing to cancel: run done/r000 is completed; cancel takes queued and running runs\n');
  });
});
