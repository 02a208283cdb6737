/**
 * Who may talk to a real `dlphys-coord` on 127.0.0.1: with --token, calls without it or with a
 * wrong one are refused (health checks excepted); with TLS, only an agent given the CA gets through.
 */
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { unary } from '../proto/client.js';
import { COORDINATOR_SERVICE, checkHealth } from '../proto/health.js';
import {
  query,
  runStates,
  serveSweep,
  startOneSlotAgent,
  tinySweep,
  waitFor,
  withCluster,
  within,
  workspace,
} from './cluster.js';
import { fileChunks, rawUpload, refused, register, withClient } from './fake_agent_fixtures.js';

test('with --token, calls without the token or with a wrong one are UNAUTHENTICATED; an agent with a wrong token exits 2 with one line, with the right one it completes the sweep', async () => {
  const ws = workspace(tinySweep({ name: 'tok', runs: 2, steps: 30 }));
  await withCluster(async (c) => {
    const coord = await serveSweep(c, ws, ['--token', 's3cret', '--exit-when-done']);
    for (const [what, token, details] of [
      ['no token', undefined, /needs a token/],
      ['a wrong token', 'guess', /wrong token/],
    ] as const) {
      await withClient(coord.address, { token }, async (conn) => {
        await refused(`Status with ${what}`, unary(conn, 'Status', { sweep: '' }), grpc.status.UNAUTHENTICATED, details);
        await refused(`Register with ${what}`, register(conn, `intruder-${what}`), grpc.status.UNAUTHENTICATED, details);
        await refused(`Lease with ${what}`, unary(conn, 'Lease', { agent_id: 'intruder', max_runs: 1 }), grpc.status.UNAUTHENTICATED, details);
        await refused(`Cancel with ${what}`, unary(conn, 'Cancel', { target: 'tok' }), grpc.status.UNAUTHENTICATED, details);
        await refused(
          `Upload with ${what}`,
          rawUpload(conn, [{ header: { run: { run_id: 'tok/r000', attempt: 1 }, agent_id: 'intruder' } }, ...fileChunks('x.txt', Buffer.from('x'))]),
          grpc.status.UNAUTHENTICATED,
          details,
        );
        const watch = conn.client.Watch({ since_id: '0' }, conn.metadata, { deadline: Date.now() + 15_000 });
        watch.on('data', () => assert.fail(`Watch with ${what} delivered an event`));
        const err = await new Promise<grpc.ServiceError>((resolve) => watch.on('error', resolve));
        assert.equal(err.code, grpc.status.UNAUTHENTICATED, `Watch with ${what}: ${err.details}`);
        assert.match(err.details, details);
      });
    }
    assert.deepEqual(query(ws.db, 'SELECT id FROM agents'), [], 'no intruder was recorded');
    assert.deepEqual(runStates(ws.db), { 'tok/r000': 'queued', 'tok/r001': 'queued' });

    const wrong = c.track('agent with a wrong token', startOneSlotAgent(coord.address, ['--token', 'guess', '--exit-when-idle']));
    assert.equal(await within('the agent with a wrong token to exit', wrong.exited, 30_000, c.logs), 2, c.logs());
    const lines = wrong.log().trim().split('\n');
    assert.equal(lines.length, 1, `one line, got:\n${wrong.log()}`);
    assert.match(lines[0]!, /^dlphys-agent: the coordinator at 127\.0\.0\.1:\d+ refused the token: wrong token; pass the coordinator's token with --token-file FILE \(or DLPHYS_TOKEN_FILE\)$/);

    const byFlag = c.track('agent with --token', startOneSlotAgent(coord.address, ['--token', 's3cret', '--exit-when-idle']));
    const byEnv = c.track('agent with DLPHYS_TOKEN', startOneSlotAgent(coord.address, ['--exit-when-idle'], { DLPHYS_TOKEN: 's3cret' }));
    assert.equal(await within('the agent with --token to exit', byFlag.exited, 90_000, c.logs), 0, c.logs());
    assert.equal(await within('the agent with DLPHYS_TOKEN to exit', byEnv.exited, 90_000, c.logs), 0, c.logs());
    assert.equal(await within('the coordinator to exit when done', coord.exited, 30_000, c.logs), 0, c.logs());
    assert.deepEqual(runStates(ws.db), { 'tok/r000': 'completed', 'tok/r001': 'completed' });
    assert.equal(query(ws.db, 'SELECT id FROM agents').length, 2, 'both agents with the right token registered');
  });
});

test('a coordinator process started with --token answers health checks without it: SERVING, for the server and for its Coordinator service', async () => {
  const ws = workspace(tinySweep({ name: 'health', runs: 1 }));
  await withCluster(async (c) => {
    const coord = await serveSweep(c, ws, ['--token', 's3cret']);
    await withClient(coord.address, {}, async (conn) => {
      assert.equal(await checkHealth(conn), 'SERVING');
      assert.equal(await checkHealth(conn, COORDINATOR_SERVICE), 'SERVING');
      await refused('Status without the token', unary(conn, 'Status', { sweep: '' }), grpc.status.UNAUTHENTICATED, /needs a token/);
    });
  });
});

test('TLS: an agent with --tls-ca completes the sweep; one without it cannot reach the coordinator', async (t) => {
  if (spawnSync('openssl', ['version'], { encoding: 'utf8' }).status !== 0) {
    t.skip('openssl is not on PATH: cannot make a self-signed certificate');
    return;
  }
  const ws = workspace(tinySweep({ name: 'tls', runs: 2, steps: 30 }));
  const cert = path.join(ws.dir, 'cert.pem');
  const key = path.join(ws.dir, 'key.pem');
  const made = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
    { encoding: 'utf8', timeout: 30_000 },
  );
  assert.equal(made.status, 0, made.stderr);

  await withCluster(async (c) => {
    const coord = await serveSweep(c, ws, ['--tls-cert', cert, '--tls-key', key, '--exit-when-done']);
    assert.match(coord.log(), /serving on 127\.0\.0\.1:\d+ \(TLS\)/);
    const plain = c.track('agent without --tls-ca', startOneSlotAgent(coord.address, ['--exit-when-idle']));
    const secure = c.track('agent with --tls-ca', startOneSlotAgent(coord.address, ['--tls-ca', cert, '--exit-when-idle']));

    await waitFor('the agent without --tls-ca to say the coordinator is unreachable', () => /no coordinator answers at 127\.0\.0\.1:\d+ .*; retrying/.test(plain.log()), 60_000, c.logs);
    assert.equal(plain.child.exitCode, null, 'it keeps retrying');
    plain.kill('SIGKILL');

    assert.equal(await within('the agent with --tls-ca to complete the sweep and exit', secure.exited, 90_000, c.logs), 0, c.logs());
    assert.equal(await within('the coordinator to exit when done', coord.exited, 30_000, c.logs), 0, c.logs());
    assert.deepEqual(runStates(ws.db), { 'tls/r000': 'completed', 'tls/r001': 'completed' });
    assert.equal(query(ws.db, 'SELECT id FROM agents').length, 1, 'only the agent with the CA got through');
    assert.doesNotMatch(plain.log(), /registered as/);
  });
});
