/**
 * The bound and type of every field of every request the coordinator accepts, in one table
 * ({@link REQUEST_BOUNDS}), checked at the edge: server.ts checks each unary request before its
 * handler runs, watch.ts checks a WatchRequest, sync_receiver.ts checks each UploadChunk. A
 * message over a bound is refused with INVALID_ARGUMENT naming the field; the bad value is quoted
 * clipped to {@link ECHO_CHARS} characters, so a hostile value is never echoed back (or logged)
 * whole. Bounds are generous for honest agents and clients and small enough that no single
 * message can slow the coordinator for everyone (a Register with a million GPUs made every
 * Status take 3 s, for good).
 *
 * Names (sweeps, runs, agents) follow one rule each, here, because they become folder names and
 * log-line words: {@link isValidName} for sweeps and runs, {@link AGENT_ID} for agents.
 */
import { RUN_NAME } from '../lib/config.js';
import { UsageError } from '../lib/errors.js';
import { MAX_ERROR_BYTES, MAX_METRIC_LINE_BYTES } from '../lib/run/limits.js';
import { MAX_COLLECTED_AT_BYTES, MAX_GPU_NAME_BYTES, MAX_HEALTH_GPUS } from '../proto/host_health.js';
import { REPORT_STATUSES } from './store/types.js';

/** At most this many characters of a refused value are quoted in the error. */
export const ECHO_CHARS = 100;
const KiB = 1024;
const MiB = 1024 * KiB;

/** Sweep and run names: a folder name (letters, digits, . _ = , + -, not starting with '.'), at most 128 bytes. */
export const MAX_NAME = 128;
/** Agent ids: letters, digits, . _ -, 1 to 128 of them (they appear in log lines and folder names). */
export const AGENT_ID = /^[A-Za-z0-9._-]{1,128}$/;
/** "<sweep>/<run>". */
export const MAX_RUN_ID = 2 * MAX_NAME + 1;
/** Attempts, metric seqs, slots and the like are int32 on the wire and stay positive. */
export const MAX_INT32 = 2 ** 31 - 1;
/** One metrics.jsonl line; a JSON object (checked in the store, which parses it anyway). Agents clip to it. */
export { MAX_METRIC_LINE_BYTES } from '../lib/run/limits.js';
/** Rows of one ReportMetrics (the agent sends at most 2000). */
export const MAX_METRIC_ROWS = 5000;
/** A run's seq numbers: int64 on the wire, but a run writing 2^31 lines is not an honest run. */
export const MAX_SEQ = MAX_INT32;
export const MAX_SUMMARY_BYTES = 256 * KiB;
export { MAX_ERROR_BYTES } from '../lib/run/limits.js';
export const MAX_SLOTS = 1024;
export const MAX_GPUS = 64;
/** An expanded sweep with every run's config (100,000 runs of a small config fit). */
export const MAX_SWEEP_JSON_BYTES = 48 * MiB;
/** A program sweep's code snapshot as sent (compressed; lib/sweep/code_snapshot.ts caps it at 50 MiB uncompressed). */
export const MAX_CODE_ARCHIVE_BYTES = 56 * MiB;
/** Lines of a run's train.log one RunDetail may ask for. */
export const MAX_LOG_TAIL_LINES = 1000;
/** One data message of an upload (the agent sends 1 MiB, at most 4 MiB). */
export const MAX_UPLOAD_CHUNK_BYTES = 4 * MiB;

/** Printable text without control characters (no newline can forge a log line). */
const TEXT = /^[^\x00-\x1f\x7f]*$/;
const GPU_ID = /^[A-Za-z0-9._:/-]{1,64}$/;
const REQUEST_ID = /^[A-Za-z0-9._-]{0,128}$/;
const SHA256 = /^[0-9a-fA-F]{64}$/;
/** A SLURM job id, an array task's "<array job>_<task>", or '' outside SLURM. */
const SLURM_JOB = /^([0-9]+(_[0-9]+)?)?$/;

/** One field's type and bound. Strings are measured in UTF-8 bytes. */
export type Rule =
  | { kind: 'string'; max: number; pattern?: RegExp; what?: string; required?: boolean }
  | { kind: 'name'; required?: boolean }
  | { kind: 'int'; min: number; max: number }
  /** A double: finite (no NaN, no infinity), within [min, max]. */
  | { kind: 'number'; min: number; max: number }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'json-object'; max: number }
  | { kind: 'bytes'; max: number }
  | { kind: 'list'; max: number; of: Rule }
  | { kind: 'message'; fields: Fields; required?: boolean }
  /** A oneof: at most one of the fields is set (proto-loader's `oneofs: true`). */
  | { kind: 'oneof'; fields: Fields };
export type Fields = Readonly<Record<string, Rule>>;

const agentId: Rule = { kind: 'string', max: 128, pattern: AGENT_ID, what: 'letters, digits, . _ - only', required: true };
const runRef: Rule = {
  kind: 'message',
  required: true,
  fields: { run_id: { kind: 'string', max: MAX_RUN_ID, pattern: TEXT, required: true }, attempt: { kind: 'int', min: 1, max: MAX_INT32 } },
};
const text = (max: number): Rule => ({ kind: 'string', max, pattern: TEXT, what: 'no control characters' });
const target: Rule = { kind: 'string', max: MAX_RUN_ID, pattern: TEXT, required: true };
const percent: Rule = { kind: 'number', min: 0, max: 100 };
const byteCount: Rule = { kind: 'int', min: 0, max: Number.MAX_SAFE_INTEGER };
/** HostHealth (proto/host_health.ts): the agent keeps to these before sending (boundHealth). */
const hostHealth: Rule = {
  kind: 'message',
  fields: {
    cpu_percent: percent,
    ram_used_bytes: byteCount,
    ram_total_bytes: byteCount,
    gpus: {
      kind: 'list',
      max: MAX_HEALTH_GPUS,
      of: {
        kind: 'message',
        fields: {
          index: { kind: 'int', min: 0, max: MAX_INT32 },
          name: text(MAX_GPU_NAME_BYTES),
          util_percent: percent,
          mem_used_bytes: byteCount,
          mem_total_bytes: byteCount,
        },
      },
    },
    collected_at: text(MAX_COLLECTED_AT_BYTES),
  },
};

/**
 * Every request message, by the name of the call (Upload: one UploadChunk), field by field, with
 * the proto's field names. A field not listed here has no room for abuse (a bool) or does not
 * exist; adding a field to the proto means adding its row here.
 */
export const REQUEST_BOUNDS: Readonly<Record<string, Fields>> = {
  Register: {
    agent_id: agentId,
    host: text(255),
    gpus: { kind: 'list', max: MAX_GPUS, of: { kind: 'string', max: 64, pattern: GPU_ID, what: 'letters, digits, . _ : / -' } },
    slots: { kind: 'int', min: 1, max: MAX_SLOTS },
    version: text(64),
    backend: text(64),
    protocol: { kind: 'int', min: 0, max: MAX_INT32 },
    slurm_job: { kind: 'string', max: 64, pattern: SLURM_JOB, what: 'digits, "_" and digits' },
  },
  Heartbeat: { agent_id: agentId, runs: { kind: 'list', max: 4 * MAX_SLOTS, of: runRef }, health: hostHealth },
  Lease: {
    agent_id: agentId,
    max_runs: { kind: 'int', min: 0, max: MAX_SLOTS },
    request_id: { kind: 'string', max: 128, pattern: REQUEST_ID, what: 'letters, digits, . _ - only' },
  },
  StartRun: { run: runRef, agent_id: agentId },
  ReportMetrics: {
    run: runRef,
    agent_id: agentId,
    rows: {
      kind: 'list',
      max: MAX_METRIC_ROWS,
      of: { kind: 'message', fields: { seq: { kind: 'int', min: 1, max: MAX_SEQ }, line: { kind: 'string', max: MAX_METRIC_LINE_BYTES, required: true } } },
    },
  },
  Report: {
    run: runRef,
    agent_id: agentId,
    status: { kind: 'enum', values: REPORT_STATUSES },
    summary_json: { kind: 'json-object', max: MAX_SUMMARY_BYTES },
    error: { kind: 'string', max: MAX_ERROR_BYTES },
  },
  Goodbye: { agent_id: agentId },
  // Its structure is checked by parseSweepJson (sweep_json.ts), which has to parse it anyway.
  SubmitSweep: { sweep_json: { kind: 'string', max: MAX_SWEEP_JSON_BYTES, required: true }, code_archive: { kind: 'bytes', max: MAX_CODE_ARCHIVE_BYTES } },
  SubmitSlurm: { sweep: { kind: 'name', required: true }, options_json: { kind: 'json-object', max: 64 * KiB } },
  GetCode: { agent_id: agentId, hash: { kind: 'string', max: 64, pattern: SHA256, what: '64 hex digits', required: true } },
  Status: { sweep: { kind: 'name' } },
  Cancel: { target },
  Retry: { target },
  Watch: { since_id: { kind: 'int', min: 0, max: Number.MAX_SAFE_INTEGER } },
  RunDetail: { run_id: target, log_lines: { kind: 'int', min: 0, max: MAX_LOG_TAIL_LINES } },
  Upload: {
    kind: {
      kind: 'oneof',
      fields: {
        header: { kind: 'message', fields: { run: runRef, agent_id: agentId } },
        // FileStart.path is also confined to the run folder by the receiver (no .., no absolute path).
        file: { kind: 'message', fields: { path: { kind: 'string', max: 1024 }, size: { kind: 'int', min: 0, max: Number.MAX_SAFE_INTEGER } } },
        data: { kind: 'bytes', max: MAX_UPLOAD_CHUNK_BYTES },
        end: { kind: 'message', fields: { sha256: { kind: 'string', max: 64, pattern: SHA256, what: '64 hex digits', required: true } } },
      },
    },
  },
};

/** True for a usable sweep or run name: a folder name that is not hidden, at most {@link MAX_NAME} bytes. */
export function isValidName(name: unknown): name is string {
  return typeof name === 'string' && RUN_NAME.test(name) && Buffer.byteLength(name) <= MAX_NAME;
}

/** The one rule for sweep and run names (store and upload receiver alike); `what` names the field. */
export function checkName(name: unknown, what: string): string {
  if (!isValidName(name)) {
    throw new UsageError(`${what} ${quote(name)} is not a valid name: use 1 to ${MAX_NAME} letters, digits and . _ = , + -, starting with a letter or digit`);
  }
  return name;
}

/** `value` as JSON, clipped to {@link ECHO_CHARS} characters. */
export function quote(value: unknown): string {
  if (Buffer.isBuffer(value)) return `<${value.length} bytes>`;
  if (Array.isArray(value)) return `<a list of ${value.length}>`;
  if (typeof value !== 'string') return String(value).slice(0, ECHO_CHARS);
  if (value.length <= ECHO_CHARS) return JSON.stringify(value);
  return `${JSON.stringify(value.slice(0, ECHO_CHARS)).slice(0, -1)}…" (${value.length} characters)`;
}

/**
 * Checks a request against its row of {@link REQUEST_BOUNDS}; `call` is the call's name or its
 * gRPC path (`/dlphys.Coordinator/Register`). Throws a UsageError (INVALID_ARGUMENT on the wire)
 * naming the first field out of bounds, e.g. `Register: slots must be an integer from 1 to 1024, got -1`.
 */
export function checkRequest(call: string, request: unknown): void {
  const method = call.slice(call.lastIndexOf('/') + 1);
  const fields = REQUEST_BOUNDS[method];
  if (!fields) throw new Error(`bounds: no row for ${method}`);
  const problem = checkFields(fields, request, '');
  if (problem) throw new UsageError(`${method}: ${problem}`);
}

function checkFields(fields: Fields, value: unknown, prefix: string): string | null {
  const o = (value ?? {}) as Record<string, unknown>;
  for (const [name, rule] of Object.entries(fields)) {
    const problem = checkRule(rule, o[name], prefix + name, o);
    if (problem) return problem;
  }
  return null;
}

function checkRule(rule: Rule, v: unknown, field: string, parent: Record<string, unknown>): string | null {
  switch (rule.kind) {
    case 'string':
    case 'name': {
      const s = v ?? '';
      if (typeof s !== 'string') return `${field} must be a string`;
      if (s === '') return rule.required ? `${field} is required` : null;
      if (rule.kind === 'name') return isValidName(s) ? null : `${field} ${quote(s)} is not a valid sweep or run name`;
      const bytes = Buffer.byteLength(s);
      if (bytes > rule.max) return `${field} is ${bytes} bytes, above the limit of ${rule.max}; got ${quote(s)}`;
      if (rule.pattern && !rule.pattern.test(s)) return `${field} ${quote(s)} has a character not allowed${rule.what ? ` (${rule.what})` : ''}`;
      return null;
    }
    case 'int': {
      // int64 arrives as a decimal string (longs: String); int32 as a number.
      const n = typeof v === 'string' && /^-?\d{1,20}$/.test(v) ? Number(v) : v ?? 0;
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < rule.min || n > rule.max) {
        return `${field} must be an integer from ${rule.min} to ${rule.max}, got ${quote(v)}`;
      }
      return null;
    }
    case 'number': {
      const n = v ?? 0;
      if (typeof n !== 'number' || !Number.isFinite(n) || n < rule.min || n > rule.max) {
        return `${field} must be a finite number from ${rule.min} to ${rule.max}, got ${quote(v)}`;
      }
      return null;
    }
    case 'enum':
      return rule.values.includes(v as string) ? null : `${field} must be one of ${rule.values.join(', ')}, got ${quote(v)}`;
    case 'json-object': {
      const s = v ?? '';
      if (typeof s !== 'string') return `${field} must be a string`;
      if (s === '') return null;
      if (Buffer.byteLength(s) > rule.max) return `${field} is ${Buffer.byteLength(s)} bytes, above the limit of ${rule.max}`;
      let parsed: unknown;
      try {
        parsed = JSON.parse(s);
      } catch {
        return `${field} is not JSON; got ${quote(s)}`;
      }
      return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? null : `${field} must be a JSON object or empty; got ${quote(s)}`;
    }
    case 'bytes': {
      const b = v ?? Buffer.alloc(0);
      if (!Buffer.isBuffer(b) && !(b instanceof Uint8Array)) return `${field} must be bytes`;
      return b.length > rule.max ? `${field} is ${b.length} bytes, above the limit of ${rule.max}` : null;
    }
    case 'list': {
      const list = v ?? [];
      if (!Array.isArray(list)) return `${field} must be a list`;
      if (list.length > rule.max) return `${field} has ${list.length} entries, above the limit of ${rule.max}`;
      for (let i = 0; i < list.length; i++) {
        const problem = checkRule(rule.of, list[i], `${field}[${i}]`, parent);
        if (problem) return problem;
      }
      return null;
    }
    case 'message':
      if (v === null || v === undefined) return rule.required ? `${field} is required` : null;
      if (typeof v !== 'object') return `${field} must be a message`;
      return checkFields(rule.fields, v, `${field}.`);
    case 'oneof': {
      // proto-loader names the set member in `parent[field]`; the members are siblings of it.
      const which = v as string | undefined;
      if (!which) return null;
      const member = rule.fields[which];
      return member ? checkRule(member, parent[which], which, parent) : `${field} ${quote(which)} is unknown`;
    }
  }
}
