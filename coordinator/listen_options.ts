import * as grpc from '@grpc/grpc-js';
import fs from 'node:fs';
import net from 'node:net';
import { Command } from 'commander';
import { UsageError } from '../lib/errors.js';
import { atLeast, portNumber, positiveInt, positiveNumber } from '../lib/cli/flags.js';
import { addTokenOptions } from '../lib/cli/token_file.js';

/** Flags of every command that runs a coordinator (serve, sweep). */
export interface ListenFlags {
  host: string;
  port: number;
  db: string;
  runsDir: string;
  token?: string;
  /** The file --token-file (or DLPHYS_TOKEN_FILE) named: SLURM job scripts point their agents at it. */
  tokenFile?: string;
  tlsCert?: string;
  tlsKey?: string;
  leaseTtl: number;
  maxAttempts: number;
  maxUploadMb: number;
  exitWhenDone: boolean;
  report: boolean;
  uploadIdle: number;
  watchMax: number;
  watchBufferKb: number;
  watchStall: number;
}

/** Adds the flags of a command that runs a coordinator; --token-file is read into `token` before the action. */
export function addListenOptions(cmd: Command): Command {
  cmd
    .option('--host <host>', 'address to listen on; anything but loopback needs --token-file (or --token)', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0: any free port, printed at start)', portNumber, 50051)
    .option('--db <file>', 'the SQLite database that holds sweeps, runs and metrics', 'runs/dlphys.db')
    .option('--runs-dir <dir>', 'where run folders land: <runs-dir>/<sweep>/<run>/', 'runs');
  return addTokenOptions(cmd, 'the shared secret agents must present')
    .option('--tls-cert <file>', 'PEM certificate: serve TLS (with --tls-key)')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option('--lease-ttl <seconds>', 'a lease not renewed by a heartbeat for this long goes back to the queue (at least 0.1)', atLeast('--lease-ttl', 0.1), 30)
    .option('--max-attempts <n>', 'times a run may be lost (its agent vanished) before it fails', positiveInt('--max-attempts'), 3)
    .option('--max-upload-mb <mb>', 'largest run folder an agent may upload', positiveNumber('--max-upload-mb'), 4096)
    .option('--exit-when-done', 'exit once every run of every sweep has finished', false)
    .option('--report', 'write <runs-dir>/<sweep>/report.html (as dlphys report makes) each time a sweep finishes', false)
    .option('--upload-idle <seconds>', 'an upload that sends nothing for this long is abandoned (DEADLINE_EXCEEDED)', positiveNumber('--upload-idle'), 60)
    .option('--watch-max <n>', 'Watch streams (the event feed of dashboards and scripts) served at once', positiveInt('--watch-max'), 256)
    .option('--watch-buffer-kb <kb>', 'event bytes a watch stream holds before it waits for its client', positiveNumber('--watch-buffer-kb'), 256)
    .option('--watch-stall <seconds>', 'a watch stream whose client reads nothing for this long is dropped', positiveNumber('--watch-stall'), 30);
}

/** True for addresses only this host can reach (which need no token). */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (net.isIPv4(host)) return host.startsWith('127.');
  return host === '::1';
}

/**
 * Checks the security flags before anything starts: a listener reachable from other hosts needs a
 * token, and TLS needs both files. Returns the server credentials.
 */
export function serverCredentials(flags: ListenFlags): grpc.ServerCredentials {
  if (!isLoopback(flags.host) && !flags.token) {
    throw new UsageError(`listening on ${flags.host} exposes the coordinator to other hosts; pass --token-file FILE (or set DLPHYS_TOKEN_FILE) and give agents the same file`);
  }
  if (Boolean(flags.tlsCert) !== Boolean(flags.tlsKey)) throw new UsageError('TLS needs both --tls-cert and --tls-key');
  if (!flags.tlsCert) return grpc.ServerCredentials.createInsecure();
  const read = (file: string, flag: string) => {
    try {
      return fs.readFileSync(file);
    } catch (err) {
      throw new UsageError(`${flag} ${file}: ${(err as Error).message}`);
    }
  };
  return grpc.ServerCredentials.createSsl(null, [{ cert_chain: read(flags.tlsCert, '--tls-cert'), private_key: read(flags.tlsKey!, '--tls-key') }]);
}
