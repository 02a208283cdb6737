/**
 * Agents' health in the store: the latest reading per agent (status shows it, no history), the
 * agent_health events a stream of heartbeats makes (only when the reading moved, at most one per
 * HEALTH_EVENT_MIN_MS, at least one per HEALTH_EVENT_MAX_MS, one kept per agent), the bounds a
 * Heartbeat's health is checked against, and the migration of a database from before health.
 */
import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { checkRequest } from '../coordinator/bounds.js';
import { MIGRATIONS } from '../coordinator/schema.js';
import { HEALTH_EVENT_MAX_MS, HEALTH_EVENT_MIN_MS, healthMovedMeaningfully } from '../coordinator/store/health.js';
import { Store, type HostHealthData } from '../coordinator/store/index.js';
import { UsageError } from '../lib/errors.js';
import { tempDir } from './helpers.js';
import { TTL, agent, fresh } from './store_fixtures.js';

const GiB = 1024 ** 3;

function reading(cpu: number, gpuUtil = 50, ramUsedGiB = 4): HostHealthData {
  return {
    cpu_percent: cpu,
    ram_used_bytes: ramUsedGiB * GiB,
    ram_total_bytes: 16 * GiB,
    gpus: [{ index: 0, name: 'NVIDIA A100-SXM4-80GB', util_percent: gpuUtil, mem_used_bytes: 10 * GiB, mem_total_bytes: 80 * GiB }],
    collected_at: '2026-01-01T00:00:00.000Z',
  };
}

const healthEvents = (store: Store, agentId = 'a1') => store.eventsSince(0).filter((e) => e.type === 'agent_health' && e.agent_id === agentId);

test("status shows each agent's latest health; a heartbeat without one keeps it; an agent that never sent one has none", () => {
  const { store } = fresh();
  agent(store, 'a1');
  agent(store, 'a2');
  store.heartbeat('a1', [], TTL, reading(10));
  store.heartbeat('a1', [], TTL, reading(80, 99, 12));
  store.heartbeat('a1', [], TTL);
  const [a1, a2] = store.status(undefined, TTL).agents;
  assert.deepEqual(a1!.health, reading(80, 99, 12));
  assert.equal(a2!.health, null);
  store.close();
});

test('heartbeats make an agent_health event only when the reading moved, at most one per 5 s and at least one per minute, and the log keeps the latest', () => {
  const { store, clock } = fresh();
  agent(store, 'a1');
  agent(store, 'a2');
  store.heartbeat('a1', [], TTL, reading(10));
  store.heartbeat('a2', [], TTL, reading(10));
  assert.equal(healthEvents(store).length, 1, 'the first reading is news');

  clock.t += 1000;
  store.heartbeat('a1', [], TTL, reading(90));
  assert.deepEqual(healthEvents(store).map((e) => JSON.parse(e.data_json).cpu_percent), [10], 'a big move within 5 s waits');

  clock.t += HEALTH_EVENT_MIN_MS;
  store.heartbeat('a1', [], TTL, reading(12, 52));
  assert.deepEqual(healthEvents(store).map((e) => JSON.parse(e.data_json).cpu_percent), [10], 'noise (2 points) is no news, even after 5 s');

  store.heartbeat('a1', [], TTL, reading(12, 80));
  const moved = healthEvents(store);
  assert.deepEqual(moved.map((e) => [JSON.parse(e.data_json).cpu_percent, JSON.parse(e.data_json).gpus[0].util_percent]), [[12, 80]], 'a GPU that got busy is news; the earlier event is gone');

  clock.t += HEALTH_EVENT_MAX_MS - 1;
  store.heartbeat('a1', [], TTL, reading(12, 80));
  assert.equal(healthEvents(store)[0]!.id, moved[0]!.id, 'steady: nothing new within the minute');
  clock.t += 1;
  store.heartbeat('a1', [], TTL, reading(12, 80));
  assert.notEqual(healthEvents(store)[0]!.id, moved[0]!.id, 'steady for a minute: one event says it still reports');

  assert.equal(healthEvents(store).length, 1);
  assert.equal(healthEvents(store, 'a2').length, 1, "another agent's event is its own");
  assert.deepEqual(store.status(undefined, TTL).agents[0]!.health, reading(12, 80), 'status always has the latest, event or not');
  store.close();
});

test('what counts as a meaningful move of a reading', () => {
  const base = reading(40, 50, 4);
  assert.equal(healthMovedMeaningfully(base, reading(44, 54, 4)), false, '4 points of CPU and GPU');
  assert.equal(healthMovedMeaningfully(base, reading(45, 50, 4)), true, '5 points of CPU');
  assert.equal(healthMovedMeaningfully(base, reading(40, 50, 4.2)), false, '0.2 GiB of 16 GiB RAM');
  assert.equal(healthMovedMeaningfully(base, reading(40, 50, 5)), true, '1 GiB of 16 GiB RAM');
  assert.equal(healthMovedMeaningfully(base, { ...base, gpus: [] }), true, 'a GPU gone');
  assert.equal(healthMovedMeaningfully(base, { ...base, gpus: [{ ...base.gpus[0]!, mem_used_bytes: 20 * GiB }] }), true, '10 GiB of GPU memory');
  assert.equal(healthMovedMeaningfully(base, { ...base, collected_at: 'later' }), false, 'only the time');
});

test("a Heartbeat's health is bounded: percentages 0..100 and finite, byte counts non-negative, at most 64 GPUs, names short", () => {
  const ok = { agent_id: 'a1', runs: [], health: { ...reading(10), ram_used_bytes: String(4 * GiB) } };
  checkRequest('Heartbeat', ok);
  checkRequest('Heartbeat', { agent_id: 'a1', runs: [], health: null });
  const gpu = reading(10).gpus[0]!;
  for (const [what, health, message] of [
    ['cpu over 100', { ...ok.health, cpu_percent: 100.5 }, /health\.cpu_percent must be a finite number from 0 to 100, got 100\.5/],
    ['cpu NaN', { ...ok.health, cpu_percent: NaN }, /health\.cpu_percent must be a finite number/],
    ['negative RAM', { ...ok.health, ram_used_bytes: '-1' }, /health\.ram_used_bytes must be an integer from 0/],
    ['65 GPUs', { ...ok.health, gpus: Array(65).fill(gpu) }, /health\.gpus has 65 entries, above the limit of 64/],
    ['a long name', { ...ok.health, gpus: [{ ...gpu, name: 'x'.repeat(129) }] }, /health\.gpus\[0\]\.name is 129 bytes, above the limit of 128/],
    ['a name with a newline', { ...ok.health, gpus: [{ ...gpu, name: 'A100\nforged' }] }, /health\.gpus\[0\]\.name .* has a character not allowed/],
    ['GPU util infinite', { ...ok.health, gpus: [{ ...gpu, util_percent: Infinity }] }, /health\.gpus\[0\]\.util_percent must be a finite number/],
  ] as const) {
    assert.throws(() => checkRequest('Heartbeat', { ...ok, health }), (err: Error) => err instanceof UsageError && message.test(err.message), what);
  }
});

test('a database from before host health gains the column and keeps its agents when opened', () => {
  const file = path.join(tempDir('dlphys-store-'), 'v3.db');
  const db = new Database(file);
  for (const m of MIGRATIONS.filter((m) => m.version <= 3)) db.exec(m.sql);
  db.pragma('user_version = 3');
  db.prepare(`INSERT INTO agents (id, host, gpus_json, slots, version, backend, registered_at, last_heartbeat) VALUES ('old', 'h', '[]', 1, 'v', 'cpu', 1, 1)`).run();
  db.close();
  const store = Store.open(file);
  assert.deepEqual(store.status(undefined, TTL).agents.map((a) => [a.id, a.health]), [['old', null]]);
  store.close();
});
