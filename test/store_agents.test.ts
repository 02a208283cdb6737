/** Agents in the store: lost agents, secrets and ids, goodbye, where a lost run goes next, quarantine. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AlreadyExistsError, NotFoundError, PermissionDeniedError, QUARANTINE_BASE_MS, QUARANTINE_LOSSES } from '../coordinator/store/index.js';
import { TTL, agent, fresh, sweep } from './store_fixtures.js';

test('expireLeases given the TTL records an agent_lost event once per silent agent', () => {
  const { store, clock } = fresh();
  agent(store, 'a1');
  agent(store, 'a2');
  clock.t += 2 * TTL;
  store.heartbeat('a2', [], TTL);
  clock.t += 1;
  assert.deepEqual(store.expireLeases(TTL).agentsLost, ['a1']);
  assert.deepEqual(store.expireLeases(TTL).agentsLost, []);
  assert.deepEqual(store.status(undefined, TTL).agents.map((a) => [a.id, a.alive]), [['a1', false], ['a2', true]]);
  store.close();
});

test("an agent's proposed secret is kept, so a Register repeated after a lost reply is answered alike; an id holding runs is not taken", () => {
  const { store, clock } = fresh();
  store.addSweep(sweep('s', 1));
  const mine = 'p'.repeat(32);
  const info = { id: 'a1', host: 'h', gpus: [], slots: 1, version: 'v', backend: 'cpu' };
  assert.equal(store.registerAgent(info, mine, TTL), mine);
  assert.equal(store.registerAgent(info, mine, TTL), mine, 'the repeat');
  store.lease('a1', 1, TTL);
  clock.t += 10 * TTL; // the coordinator was down: a1 looks silent, but still holds its run
  assert.throws(() => store.registerAgent(info, 'q'.repeat(32), TTL), AlreadyExistsError);
  assert.equal(store.registerAgent(info, mine, TTL), mine);
});

test('an agent secret is given at register; calls are authenticated with it; a live id cannot be taken over', () => {
  const { store, clock } = fresh();
  const secret = store.registerAgent({ id: 'a1', host: 'h', gpus: [], slots: 1, version: 'v', backend: 'cpu' }, '', TTL);
  assert.ok(secret.length >= 32);
  store.authenticateAgent('a1', secret);
  assert.throws(() => store.authenticateAgent('a1', 'forged'), PermissionDeniedError);
  assert.throws(() => store.authenticateAgent('a1', ''), PermissionDeniedError);
  assert.throws(() => store.authenticateAgent('nobody', secret), NotFoundError);
  assert.throws(() => store.registerAgent({ id: 'a1', host: 'evil', gpus: [], slots: 1, version: 'v', backend: 'cpu' }, '', TTL), AlreadyExistsError);
  assert.throws(() => store.registerAgent({ id: 'a1', host: 'evil', gpus: [], slots: 1, version: 'v', backend: 'cpu' }, 'forged', TTL), AlreadyExistsError);
  assert.equal(store.registerAgent({ id: 'a1', host: 'h', gpus: [], slots: 1, version: 'v', backend: 'cpu' }, secret, TTL), secret, 'the owner registers again');
  clock.t += 2 * TTL + 1;
  const taken = store.registerAgent({ id: 'a1', host: 'h2', gpus: [], slots: 1, version: 'v', backend: 'cpu' }, '', TTL);
  assert.notEqual(taken, secret, 'the id of a lost agent goes to a new one, with a new secret');
  assert.throws(() => store.authenticateAgent('a1', secret), PermissionDeniedError);
});

test('goodbye shows the agent as left at once', () => {
  const { store } = fresh();
  agent(store);
  store.goodbye('a1');
  const [a] = store.status(undefined, TTL).agents;
  assert.equal(a!.alive, false);
  assert.equal(a!.state, 'left');
  assert.deepEqual(store.expireLeases(TTL).agentsLost, [], 'no agent_lost event for an agent that left');
});

test('a lost run is not leased again to the agent that lost it while another agent can take it', () => {
  const { store, clock } = fresh();
  store.addSweep(sweep('s', 1));
  agent(store, 'a1');
  agent(store, 'a2');
  const [r] = store.lease('a1', 1, TTL);
  store.heartbeat('a2', [], TTL);
  clock.t += TTL + 1;
  store.heartbeat('a2', [], TTL);
  assert.equal(store.expireLeases(TTL).requeued.length, 1);
  store.heartbeat('a1', [], TTL); // a1 is back
  assert.deepEqual(store.lease('a1', 1, TTL), [], 'a1 lost it: left for a2');
  assert.equal(store.lease('a2', 1, TTL)[0]!.runId, r!.runId);
});

test('the loser takes its lost run again when no other agent is alive', () => {
  const { store, clock } = fresh();
  store.addSweep(sweep('s', 1));
  agent(store, 'a1');
  store.lease('a1', 1, TTL);
  clock.t += TTL + 1;
  store.expireLeases(TTL);
  store.heartbeat('a1', [], TTL);
  assert.equal(store.lease('a1', 1, TTL).length, 1);
});

test('an agent that loses runs repeatedly is quarantined: no lease until the period ends, shown in status', () => {
  const { store, clock } = fresh();
  store.addSweep(sweep('s', 4));
  agent(store, 'a1');
  for (let i = 0; i < QUARANTINE_LOSSES; i++) {
    assert.equal(store.lease('a1', 1, TTL).length, 1);
    clock.t += TTL + 1;
    store.expireLeases(TTL);
    store.heartbeat('a1', [], TTL);
  }
  const st = store.status(undefined, TTL).agents[0]!;
  assert.equal(st.state, 'quarantined');
  assert.equal(st.lost_runs, QUARANTINE_LOSSES);
  assert.ok(st.quarantined_until > new Date(clock.t).toISOString());
  assert.deepEqual(store.lease('a1', 4, TTL), []);
  clock.t += Math.max(QUARANTINE_BASE_MS, 2 * TTL) + 1;
  store.heartbeat('a1', [], TTL);
  assert.equal(store.status(undefined, TTL).agents[0]!.state, 'alive');
  assert.ok(store.lease('a1', 4, TTL).length > 0);
  const lost = store.status('s').runs.reduce((n, r) => n + r.lost_attempts, 0);
  assert.equal(lost, QUARANTINE_LOSSES, 'lost attempts are counted apart from failures');
});
