/**
 * Host health as agents read it and the coordinator shows it: the /proc and nvidia-smi parsers on
 * real outputs (test/fixtures/host_health/: /proc/stat and /proc/meminfo read on a 2-core test
 * machine; nvidia-smi's CSV as it prints it for the query in NVIDIA_SMI_ARGS on A100 hosts, a
 * MIG GPU's [N/A] included), the monitor's behaviour around nvidia-smi (absent,
 * failing, hung: never in a heartbeat's way), and real agents on 127.0.0.1 whose health reaches
 * Status and Watch — one with a fake nvidia-smi on PATH showing its GPUs, one without showing none.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import {
  HostHealthMonitor,
  NVIDIA_SMI_ARGS,
  cpuPercent,
  findOnPath,
  parseMeminfo,
  parseNvidiaSmi,
  parseProcStat,
} from '../agent/host_health.js';
import { boundHealth, MAX_GPU_NAME_BYTES, MAX_HEALTH_GPUS } from '../proto/host_health.js';
import { connect, unary } from '../proto/client.js';
import type { AgentStatus__Output } from '../proto/generated/dlphys/AgentStatus.js';
import type { Event__Output } from '../proto/generated/dlphys/Event.js';
import { coordCommand, query, startCoordinator, startOneSlotAgent, waitFor, withCluster, workspace } from './cluster.js';
import { repoRoot, tempDir, writeText } from './helpers.js';

const fixture = (name: string) => fs.readFileSync(path.join(repoRoot, 'test', 'fixtures', 'host_health', name), 'utf8');
const MiB = 1024 * 1024;

/** A fake nvidia-smi in a folder of its own: prints `<folder>/gpus.csv` when called with the real query's arguments. */
function fakeNvidiaSmi(csv: string, script = `[ "$*" = "${NVIDIA_SMI_ARGS.join(' ')}" ] || { echo "unexpected arguments: $*" >&2; exit 2; }\ncat "$(dirname "$0")/gpus.csv"`) {
  const dir = tempDir('dlphys-fake-smi-');
  const bin = writeText(path.join(dir, 'nvidia-smi'), `#!/bin/sh\n${script}\n`);
  fs.chmodSync(bin, 0o755);
  const csvFile = writeText(path.join(dir, 'gpus.csv'), csv);
  return { dir, bin, setCsv: (text: string) => fs.writeFileSync(csvFile, text) };
}

test('CPU is the busy share of all cores between two /proc/stat readings (iowait counts as idle, guest time is not counted twice)', () => {
  const before = parseProcStat(fixture('proc_stat_1.txt'))!;
  const after = parseProcStat(fixture('proc_stat_2.txt'))!;
  // The fixtures: 2 s of a 2-core machine with one core busy, 219 busy jiffies of 413.
  assert.deepEqual({ busy: after.busy - before.busy, total: after.total - before.total }, { busy: 219, total: 413 });
  assert.equal(cpuPercent(before, after).toFixed(2), '53.03');
  assert.equal(cpuPercent(after, after), 0, 'no time passed');
  // user nice system idle iowait irq softirq steal guest guest_nice: guest is inside user already.
  const a = parseProcStat('cpu  100 0 0 100 0 0 0 0 0 0\n')!;
  const b = parseProcStat('cpu  150 0 0 130 20 0 0 0 50 0\n')!;
  assert.equal(cpuPercent(a, b), 50);
  assert.equal(parseProcStat('intr 1 2 3\n'), null);
});

test('RAM used is MemTotal - MemAvailable in bytes; a kernel without MemAvailable counts free, buffers and cache as available', () => {
  assert.deepEqual(parseMeminfo(fixture('meminfo.txt')), { usedBytes: (24683652 - 24225636) * 1024, totalBytes: 24683652 * 1024 });
  assert.deepEqual(parseMeminfo('MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 250 kB\n'), { usedBytes: 600 * 1024, totalBytes: 1000 * 1024 });
  assert.equal(parseMeminfo('nothing here'), null);
});

test('nvidia-smi CSV lines become GPUs with memory in bytes; [N/A] reads 0, warnings are skipped, a comma in a name is kept', () => {
  assert.deepEqual(parseNvidiaSmi(fixture('nvidia_smi_a100x4.csv')), [
    { index: 0, name: 'NVIDIA A100-SXM4-80GB', util_percent: 96, mem_used_bytes: 67542 * MiB, mem_total_bytes: 81920 * MiB },
    { index: 1, name: 'NVIDIA A100-SXM4-80GB', util_percent: 0, mem_used_bytes: 3 * MiB, mem_total_bytes: 81920 * MiB },
    { index: 2, name: 'NVIDIA A100-SXM4-80GB', util_percent: 100, mem_used_bytes: 42274 * MiB, mem_total_bytes: 81920 * MiB },
    { index: 3, name: 'NVIDIA A100-SXM4-80GB', util_percent: 0, mem_used_bytes: 4 * MiB, mem_total_bytes: 81920 * MiB },
  ]);
  const mig = parseNvidiaSmi(fixture('nvidia_smi_mig_na.csv'));
  assert.deepEqual(
    mig.map((g) => [g.name, g.util_percent, g.mem_used_bytes / MiB]),
    [
      ['NVIDIA A100-SXM4-40GB', 0, 18],
      ['NVIDIA GeForce RTX 3090', 37, 1221],
    ],
  );
  assert.deepEqual(parseNvidiaSmi('WARNING: infoROM is corrupted at gpu 0000:00:04.0\n\n0, Odd, Name, 5, 1, 2\n').map((g) => g.name), ['Odd, Name']);
  assert.deepEqual(parseNvidiaSmi(''), []);
});

test('a reading is kept within the bounds the coordinator checks, so a heartbeat is never refused for it', () => {
  const gpu = { index: 0, name: `GPU\n${'x'.repeat(500)}`, util_percent: 250, mem_used_bytes: -5, mem_total_bytes: NaN };
  const h = boundHealth({ cpu_percent: 101.5, ram_used_bytes: 1.5, ram_total_bytes: Infinity, gpus: Array(100).fill(gpu), collected_at: 'now' });
  assert.equal(h.cpu_percent, 100);
  assert.equal(h.ram_used_bytes, 2);
  assert.equal(h.ram_total_bytes, Number.MAX_SAFE_INTEGER);
  assert.equal(h.gpus.length, MAX_HEALTH_GPUS);
  assert.equal(Buffer.byteLength(h.gpus[0]!.name), MAX_GPU_NAME_BYTES);
  assert.ok(!/\n/.test(h.gpus[0]!.name));
  assert.deepEqual([h.gpus[0]!.util_percent, h.gpus[0]!.mem_used_bytes, h.gpus[0]!.mem_total_bytes], [100, 0, 0]);
});

test('the monitor measures CPU from the previous reading and reads RAM and GPUs (a fake /proc and nvidia-smi)', async () => {
  const proc = tempDir('dlphys-proc-');
  writeText(path.join(proc, 'stat'), fixture('proc_stat_1.txt'));
  writeText(path.join(proc, 'meminfo'), fixture('meminfo.txt'));
  const smi = fakeNvidiaSmi(fixture('nvidia_smi_a100x4.csv'));
  const monitor = new HostHealthMonitor({ procDir: proc, nvidiaSmi: smi.bin, now: () => Date.parse('2026-01-02T03:04:05Z') });
  await monitor.start();
  await monitor.settled();
  writeText(path.join(proc, 'stat'), fixture('proc_stat_2.txt'));
  const h = await monitor.read();
  assert.equal(h.cpu_percent.toFixed(2), '53.03');
  assert.equal(h.ram_total_bytes, 24683652 * 1024);
  assert.deepEqual(h.gpus.map((g) => g.util_percent), [96, 0, 100, 0]);
  assert.equal(h.collected_at, '2026-01-02T03:04:05.000Z');
});

test('without nvidia-smi on PATH the monitor sends no GPUs and never looks again; a failing one is asked again only after a while', async () => {
  assert.equal(findOnPath('nvidia-smi', tempDir()), null);
  const none = new HostHealthMonitor({ nvidiaSmi: findOnPath('nvidia-smi', tempDir()) });
  await none.start();
  assert.equal(none.hasNvidiaSmi, false);
  assert.deepEqual((await none.read()).gpus, []);

  const calls = tempDir();
  const failing = fakeNvidiaSmi('', `echo x >> ${calls}/calls\necho "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver." >&2\nexit 9`);
  assert.equal(findOnPath('nvidia-smi', `${tempDir()}${path.delimiter}${failing.dir}`), failing.bin);
  const logs: string[] = [];
  let now = 0;
  const monitor = new HostHealthMonitor({ nvidiaSmi: failing.bin, gpuRetryMs: 60_000, now: () => now, log: (l) => logs.push(l) });
  await monitor.start();
  await monitor.settled();
  for (let i = 0; i < 5; i++) {
    assert.deepEqual((await monitor.read()).gpus, []);
    await monitor.settled();
  }
  assert.equal(fs.readFileSync(path.join(calls, 'calls'), 'utf8').split('\n').filter(Boolean).length, 1, 'asked once within the retry period');
  assert.equal(logs.length, 1, logs.join('\n'));
  assert.match(logs[0]!, /^nvidia-smi failed \(.*\): heartbeats carry no GPU health; trying again every 60 s$/);
  now = 60_000;
  await monitor.read();
  await monitor.settled();
  assert.equal(fs.readFileSync(path.join(calls, 'calls'), 'utf8').split('\n').filter(Boolean).length, 2, 'asked again after the period');
  assert.equal(logs.length, 1, 'one line per stretch of failures');
});

test('a hung nvidia-smi never delays a reading, and is killed after its timeout', async () => {
  const hung = fakeNvidiaSmi('', 'echo $$ > "$(dirname "$0")/pid"\nexec sleep 60');
  const logs: string[] = [];
  const monitor = new HostHealthMonitor({ nvidiaSmi: hung.bin, gpuTimeoutMs: 500, log: (l) => logs.push(l) });
  await monitor.start();
  const t = performance.now();
  const h = await monitor.read();
  assert.ok(performance.now() - t < 400, `a reading took ${performance.now() - t} ms`);
  assert.deepEqual(h.gpus, []);
  await monitor.settled();
  assert.match(logs.join('\n'), /nvidia-smi failed \(no answer within 500 ms\)/);
  const pid = Number(fs.readFileSync(path.join(hung.dir, 'pid'), 'utf8'));
  assert.throws(() => process.kill(pid, 0), /ESRCH/, 'the hung nvidia-smi was killed');
});

/** The agent_health events a Watch stream delivers, as they come. */
function watchHealth(address: string) {
  const conn = connect(address);
  const seen: Event__Output[] = [];
  const stream = conn.client.Watch({ since_id: '0' }, conn.metadata, { deadline: Date.now() + 180_000 });
  stream.on('data', (e: Event__Output) => void (e.type === 'agent_health' && seen.push(e)));
  stream.on('error', () => undefined);
  return {
    seen,
    close: () => {
      stream.cancel();
      conn.close();
    },
  };
}

test('agents send their health: Status shows CPU, RAM and the GPUs nvidia-smi lists (none without it), and Watch gets agent_health events, one kept per agent', async () => {
  const ws = workspace({});
  const smi = fakeNvidiaSmi(fixture('nvidia_smi_a100x4.csv'));
  // Only node's own folder on PATH: no nvidia-smi unless this host keeps one beside node.
  const bareBin = path.dirname(process.execPath);
  const bareHasSmi = findOnPath('nvidia-smi', bareBin) !== null;
  await withCluster(async (c) => {
    const coord = c.track('coordinator', await startCoordinator(['serve', '--port', '0', '--db', ws.db, '--runs-dir', ws.runsDir, '--lease-ttl', '3']));
    const watch = watchHealth(coord.address);
    const gpuAgent = c.track('agent with GPUs', startOneSlotAgent(coord.address, [], { PATH: `${smi.dir}${path.delimiter}${process.env.PATH}` }));
    const cpuAgent = c.track('agent without nvidia-smi', startOneSlotAgent(coord.address, [], { PATH: bareBin }));
    const conn = connect(coord.address);
    try {
      let agents: AgentStatus__Output[] = [];
      const reported = () => agents.length === 2 && agents.every((a) => a.health) && agents.some((a) => a.health!.gpus.length > 0);
      const deadline = Date.now() + 60_000;
      while (!reported()) {
        assert.ok(Date.now() < deadline, `timed out waiting for both agents' health in Status:\n${JSON.stringify(agents)}\n${c.logs()}`);
        agents = (await unary(conn, 'Status', { sweep: '' })).agents;
        if (!reported()) await new Promise((r) => setTimeout(r, 200));
      }
      const byHost = (hasGpus: boolean) => agents.find((a) => (a.health!.gpus.length > 0) === hasGpus)!;
      const gpu = byHost(true);
      assert.match(gpuAgent.log(), new RegExp(`registered as ${gpu.id}`), 'the GPUs are the agent with the fake nvidia-smi');
      assert.deepEqual(
        gpu.health!.gpus.map((g) => [g.index, g.name, g.util_percent, g.mem_used_bytes, g.mem_total_bytes]),
        [
          [0, 'NVIDIA A100-SXM4-80GB', 96, String(67542 * MiB), String(81920 * MiB)],
          [1, 'NVIDIA A100-SXM4-80GB', 0, String(3 * MiB), String(81920 * MiB)],
          [2, 'NVIDIA A100-SXM4-80GB', 100, String(42274 * MiB), String(81920 * MiB)],
          [3, 'NVIDIA A100-SXM4-80GB', 0, String(4 * MiB), String(81920 * MiB)],
        ],
      );
      for (const a of agents) {
        const h = a.health!;
        assert.ok(h.cpu_percent >= 0 && h.cpu_percent <= 100, `cpu ${h.cpu_percent}`);
        assert.ok(Number(h.ram_used_bytes) > 0 && Number(h.ram_used_bytes) <= Number(h.ram_total_bytes), `ram ${h.ram_used_bytes}/${h.ram_total_bytes}`);
        assert.ok(Math.abs(Date.parse(h.collected_at) - Date.now()) < 60_000, h.collected_at);
      }
      const table = await coordCommand(['status', '--coord', coord.address]);
      assert.equal(table.status, 0, table.stderr);
      const row = table.stdout.split('\n').find((l) => l.startsWith(gpu.id)) ?? '';
      assert.match(row, /\s\d+%\s+\d+\.\d\/\d+\.\dG\s+96%,0%,100%,0%\s/, `dlphys-coord status shows CPU, RAM and GPU load:\n${table.stdout}`);
      if (!bareHasSmi) {
        const cpu = byHost(false);
        assert.match(cpuAgent.log(), new RegExp(`registered as ${cpu.id}`));
        assert.deepEqual(cpu.health!.gpus, [], 'a host without nvidia-smi lists no GPUs');
      }

      // Watch: the GPU agent's health arrives as an event; a real change arrives as a newer one,
      // and the log keeps only that one for the agent.
      const healthOf = (e: Event__Output) => JSON.parse(e.data_json) as { gpus: { util_percent: number }[] };
      await waitFor('an agent_health event with the GPUs', () => watch.seen.some((e) => e.agent_id === gpu.id && healthOf(e).gpus.length === 4), 30_000, c.logs);
      smi.setCsv(fixture('nvidia_smi_a100x4.csv').replace('0, NVIDIA A100-SXM4-80GB, 96,', '0, NVIDIA A100-SXM4-80GB, 12,'));
      const changed = await waitFor(
        'an agent_health event with the new utilisation',
        () => watch.seen.find((e) => e.agent_id === gpu.id && healthOf(e).gpus[0]?.util_percent === 12),
        30_000,
        c.logs,
      );
      const kept = query<{ id: number }>(ws.db, `SELECT id FROM events WHERE type = 'agent_health' AND agent_id = ?`, gpu.id);
      assert.ok(kept.length === 1 && kept[0]!.id >= Number(changed.id), `one agent_health event kept for the agent, the latest: ${JSON.stringify(kept)}`);
      assert.ok(watch.seen.filter((e) => e.agent_id === gpu.id).length >= 2, 'the stream saw the earlier one too');
      const perAgent = query<{ agent_id: string; n: number }>(ws.db, `SELECT agent_id, count(*) AS n FROM events WHERE type = 'agent_health' GROUP BY agent_id`);
      assert.deepEqual(perAgent.map((r) => r.n), [1, 1], JSON.stringify(perAgent));
    } finally {
      watch.close();
      conn.close();
    }
  });
});
