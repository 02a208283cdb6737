/**
 * What every part of the store works through: the database and its statements, the clock, and
 * the transactions with their event outbox (events added inside a transaction reach listeners
 * after it commits, never when it rolls back).
 */
import type Database from 'better-sqlite3';
import { UsageError } from '../../lib/errors.js';
import { EventLog, type EventRow } from '../events.js';
import { openDatabase } from '../schema.js';
import { prepareStatements, type Statements } from './statements.js';
import type { RunRef } from './types.js';
import { stamp } from '../../lib/log.js';

export type Listener = (events: EventRow[]) => void;

export interface EventFields {
  sweep?: string | null;
  runId?: string | null;
  agentId?: string | null;
  data?: unknown;
}

export class StoreCore {
  readonly db: Database.Database;
  readonly s: Statements;
  private readonly events: EventLog;
  private readonly listeners = new Set<Listener>();
  private pending: EventRow[] = [];
  private inTx = false;
  /** Calls waiting for the next group commit, and whether one is running. */
  private group: { fn: () => unknown; resolve: (value: unknown) => void; reject: (err: unknown) => void }[] | null = null;
  private inGroup = false;

  constructor(
    file: string,
    readonly maxAttempts: number,
    readonly now: () => number,
  ) {
    this.db = openDatabase(file);
    this.events = new EventLog(this.db);
    this.s = prepareStatements(this.db);
  }

  /** Runs fn in one IMMEDIATE transaction; after it commits, hands the events it added to listeners. */
  tx<T>(fn: () => T): T {
    // Inside a group commit, fn already runs in a savepoint of the group's transaction.
    if (this.inGroup) return fn();
    if (this.inTx) throw new Error('Store: nested transaction');
    this.inTx = true;
    this.pending = [];
    let result: T;
    try {
      result = this.db.transaction(fn).immediate();
    } catch (err) {
      this.pending = [];
      throw err;
    } finally {
      this.inTx = false;
    }
    const events = this.pending;
    this.pending = [];
    if (events.length > 0) this.emit(events);
    return result;
  }

  /**
   * Group commit: runs `fn` (store calls that would each commit, and fsync, on their own) with the
   * other calls queued in this turn of the event loop, in one IMMEDIATE transaction, each in a
   * savepoint of its own, so that one call's error undoes only that call. The promise settles
   * once the whole group has committed: a call is acknowledged only when it is durable, as
   * before, but many calls share one fsync. With synchronous=FULL and many agents, a commit's
   * fsync, not the SQL, is what a call costs (tens of ms while uploads write), and the event loop
   * waits for it.
   */
  grouped<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.group === null) {
        this.group = [];
        setImmediate(() => this.commitGroup());
      }
      this.group.push({ fn, resolve: resolve as (value: unknown) => void, reject });
    });
  }

  private commitGroup(): void {
    const calls = this.group ?? [];
    this.group = null;
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    this.pending = [];
    this.inGroup = true;
    try {
      this.db
        .transaction(() => {
          for (const call of calls) {
            const mark = this.pending.length;
            try {
              // Nested: better-sqlite3 makes it a savepoint, rolled back alone if the call throws.
              outcomes.push({ ok: true, value: this.db.transaction(call.fn)() });
            } catch (error) {
              // SQLite undoes the whole transaction on some errors (a full disk, an I/O error): the
              // group is over, and every call in it is refused with that error.
              if (!this.db.inTransaction) throw error;
              this.pending.length = mark;
              outcomes.push({ ok: false, error });
            }
          }
        })
        .immediate();
    } catch (error) {
      // The group did not commit (a full disk, say): none of its calls happened.
      this.inGroup = false;
      this.pending = [];
      for (const call of calls) call.reject(error);
      return;
    }
    this.inGroup = false;
    const events = this.pending;
    this.pending = [];
    if (events.length > 0) this.emit(events);
    calls.forEach((call, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) call.resolve(outcome.value);
      else call.reject(outcome.error);
    });
  }

  private emit(events: EventRow[]): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(events);
      } catch (err) {
        // The transaction is committed: a listener's bug must not look like the call failed.
        process.emitWarning(`dlphys store: an event listener threw: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }

  /** Appends an event in the current transaction; listeners get it once that commits. */
  event(type: string, f: EventFields): void {
    const dataJson = f.data === undefined ? null : JSON.stringify(f.data);
    this.pending.push(this.events.append(this.now(), type, { ...f, dataJson }));
  }

  onEvent(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** The one event kept of a superseding type for a key (events.ts): what a new one would supersede. */
  latestEvent(type: string, key: string): { id: number; timeMs: number; dataJson: string } | undefined {
    return this.events.latest(type, key);
  }

  eventsSince(id: number, limit: number): EventRow[] {
    return this.events.since(id, limit);
  }

  close(): void {
    this.listeners.clear();
    if (this.db.open) this.db.close();
  }
}

/** A stored time (epoch ms) as status shows it: ISO 8601 UTC, '' for none. */
export function iso(ms: number | null): string {
  return ms === null ? '' : stamp('iso', ms);
}

export function requireRef(ref: RunRef): void {
  if (typeof ref?.runId !== 'string' || ref.runId === '') throw new UsageError('a run reference needs a run id');
  if (!Number.isSafeInteger(ref.attempt) || ref.attempt < 1) {
    throw new UsageError(`run ${ref.runId}: attempt must be an integer >= 1, got ${String(ref.attempt)}`);
  }
}

export function requireTtl(ttl: number, what = 'lease TTL'): void {
  if (!Number.isFinite(ttl) || ttl <= 0) throw new UsageError(`${what} must be a positive number of milliseconds, got ${String(ttl)}`);
}
