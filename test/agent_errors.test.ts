/**
 * A real agent against a coordinator that fails its calls with errors other than "unreachable"
 * (INTERNAL, as a full database disk gave before): the agent keeps going, retries, keeps the
 * trained folder until its report is taken, and exits only when asked. The coordinator here is
 * a small gRPC server in the test process that answers from a script, so each failure happens
 * exactly where the test wants it; everything else (agent, runner, files) is real.
 */
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { CoordinatorHandlers } from '../proto/generated/dlphys/Coordinator.js';
import { dlphysProto } from '../proto/load.js';
import { startAgent, within, withCluster } from './cluster.js';
import { tempDir, tinyConfig } from './helpers.js';

const internal = (what: string) => ({ code: grpc.status.INTERNAL, details: `${what}: database or disk is full (scripted)` });

test('an agent keeps going through INTERNAL errors on Register, Lease and Report, and deletes its folder only once the report is taken', async () => {
  const calls: Record<string, number> = {};
  const count = (method: string) => (calls[method] = (calls[method] ?? 0) + 1);
  let folderAtFailedReport: boolean | null = null;
  let reported: { status: string } | null = null;
  const workDir = tempDir('dlphys-agent-');
  const folder = path.join(workDir, 'scripted', 'a1', 'r000');
  const run = { run_id: 'scripted/r000', attempt: 1 };
  const handlers: CoordinatorHandlers = {
    Register: (_call, cb) => (count('Register') <= 2 ? cb(internal('Register')) : cb(null, { lease_ttl_ms: 30_000, heartbeat_ms: 500, agent_secret: 's'.repeat(32) })),
    Lease: (_call, cb) => {
      const n = count('Lease');
      if (n <= 2) return cb(internal('Lease'));
      if (n === 3) return cb(null, { runs: [{ run, sweep: 'scripted', name: 'r000', config_json: JSON.stringify(tinyConfig({ name: 'r000' })) }], unfinished: 1 });
      cb(null, { runs: [], unfinished: reported ? 0 : 1 });
    },
    Heartbeat: (_call, cb) => cb(null, { cancel: [], lost: [] }),
    GetCode: (_call, cb) => cb(internal('GetCode')),
    StartRun: (_call, cb) => cb(null, {}),
    ReportMetrics: (call, cb) => cb(null, { acked_seq: call.request.rows.reduce((m, r) => Math.max(m, Number(r.seq)), 0).toString() }),
    Upload: (call, cb) => {
      let files = 0;
      call.on('data', (chunk: { kind?: string }) => void (chunk.kind === 'end' && files++));
      call.on('end', () => cb(null, { files, bytes: '0' }));
    },
    Report: (call, cb) => {
      if (count('Report') <= 2) {
        folderAtFailedReport = fs.existsSync(path.join(folder, 'summary.json'));
        return cb(internal('Report'));
      }
      reported = { status: call.request.status };
      cb(null, {});
    },
    Goodbye: (_call, cb) => cb(null, {}),
    SubmitSweep: (_call, cb) => cb({ code: grpc.status.UNIMPLEMENTED }),
    Status: (_call, cb) => cb({ code: grpc.status.UNIMPLEMENTED }),
    Cancel: (_call, cb) => cb({ code: grpc.status.UNIMPLEMENTED }),
    Retry: (_call, cb) => cb({ code: grpc.status.UNIMPLEMENTED }),
    RunDetail: (_call, cb) => cb({ code: grpc.status.UNIMPLEMENTED }),
    SubmitSlurm: (_call, cb) => cb({ code: grpc.status.UNIMPLEMENTED }),
    Watch: (call) => call.end(),
  };
  const server = new grpc.Server();
  server.addService(dlphysProto.Coordinator.service, handlers);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  try {
    await withCluster(async (c) => {
      const agent = c.track('agent', startAgent(`127.0.0.1:${port}`, ['--slots', '1', '--work-dir', workDir, '--exit-when-idle']));
      assert.equal(await within('the agent to report and exit when idle', agent.exited, 120_000, c.logs), 0, c.logs());
      assert.deepEqual(reported, { status: 'completed' }, c.logs());
      assert.ok(calls.Register! >= 3 && calls.Lease! >= 3 && calls.Report === 3, JSON.stringify(calls));
      assert.equal(folderAtFailedReport, true, 'the trained folder was still there while its report was refused');
      assert.equal(fs.existsSync(folder), false, 'and deleted once the report was taken');
      assert.match(agent.log(), /Register: database or disk is full \(scripted\); retrying/);
    });
  } finally {
    server.forceShutdown();
  }
});
