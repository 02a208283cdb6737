/**
 * The user-facing edges of `dlphys-coord` and `dlphys-agent`: token files, explicit submission,
 * database paths, and what status and retry print. Real processes on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
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
