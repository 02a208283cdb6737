/**
 * The coordinator's end of `Watch`: each stream replays the event log after its since_id, then
 * follows new events as they are committed. Nothing about a watcher grows with the log or with
 * how slowly it reads:
 *
 * - The replay reads the database a page at a time, and reads the next page only once the
 *   stream has taken the previous one: a write that returns false (or that brings the bytes
 *   handed to grpc-js and not yet sent to {@link WatchOptions.bufferBytes}) pauses the stream
 *   until every write has gone out. Pages run in turns of at most 5 ms of the event loop, all
 *   streams together, so Status and the agents' calls are served between them.
 * - A stream that has caught up is sent each committed event directly (one store listener for
 *   all streams); one that is behind is not: it reads what it missed from the database when it
 *   is ready, so a slow reader costs a cursor, not a queue. (The log is compacted, see
 *   events.ts: a reader far behind gets the latest metrics event of each run, not every one.)
 * - A stream paused for {@link WatchOptions.stallMs} (its client read nothing for that long) is
 *   dropped with RESOURCE_EXHAUSTED saying why and where to resume (since_id), and at most
 *   {@link WatchOptions.maxWatchers} streams are served at once (more are refused with
 *   RESOURCE_EXHAUSTED): a client that opens streams and never reads cannot hold the
 *   coordinator's memory or its slots for good.
 * - A stream cancelled, closed or failed is forgotten at once (its timers, its page, its slot).
 */
import * as grpc from '@grpc/grpc-js';
import type { Event } from '../proto/generated/dlphys/Event.js';
import type { WatchRequest__Output } from '../proto/generated/dlphys/WatchRequest.js';
import { checkRequest } from './bounds.js';
import type { EventRow } from './events.js';
import { errorStatus } from './error_status.js';

export type WatchCall = grpc.ServerWritableStream<WatchRequest__Output, Event>;

export interface WatchOptions {
  /** Streams served at once; one more is refused with RESOURCE_EXHAUSTED. @default 256 */
  readonly maxWatchers?: number;
  /** Bytes of events handed to a stream and not yet sent before it pauses. @default 256 KiB */
  readonly bufferBytes?: number;
  /** A stream paused this long (its client reads nothing) is dropped. @default 30 s */
  readonly stallMs?: number;
  /** Events read from the database at a time. @default 64 */
  readonly pageSize?: number;
}

export const WATCH_DEFAULTS = { maxWatchers: 256, bufferBytes: 256 * 1024, stallMs: 30_000, pageSize: 64 } as const;

/** What the hub needs of the store. */
export interface EventSource {
  onEvent(listener: (events: EventRow[]) => void): () => void;
  eventsSince(id: number, limit: number): EventRow[];
}

export interface WatchHubDeps {
  readonly events: EventSource;
  readonly log: (line: string) => void;
  readonly options?: WatchOptions;
}

/** Ends a server stream with a status. */
function endWith(call: WatchCall, code: grpc.status, details: string): void {
  // 'error' (not destroy) is how grpc-js ends a server stream with a status: a destroyed stream
  // never sends one, and the client would wait for its deadline. The status goes out after what
  // the stream has already taken.
  call.emit('error', Object.assign(new Error(details), { code, details }));
}

/** Longest stretch of watch work in one turn of the event loop, in ms. */
const SLICE_MS = 5;

/**
 * Runs the streams' pages in turns of at most {@link SLICE_MS}: a thousand streams opened at once
 * would otherwise each run their first page in the same turn, and Status would wait for all.
 */
class Turns {
  private queue: (() => void)[] = [];
  private scheduled = false;

  add(fn: () => void): void {
    this.queue.push(fn);
    if (!this.scheduled) this.next();
  }

  private next(): void {
    this.scheduled = true;
    setImmediate(() => this.run());
  }

  private run(): void {
    const until = performance.now() + SLICE_MS;
    let i = 0;
    while (i < this.queue.length && performance.now() < until) this.queue[i++]!();
    this.queue = this.queue.slice(i);
    this.scheduled = false;
    if (this.queue.length) this.next();
  }
}

/** Every Watch stream of one coordinator. */
export class WatchHub {
  readonly options: Required<WatchOptions>;
  private readonly watchers = new Set<Watcher>();
  private readonly unsubscribe: () => void;
  private readonly turns = new Turns();

  constructor(private readonly deps: WatchHubDeps) {
    this.options = { ...WATCH_DEFAULTS, ...deps.options };
    this.unsubscribe = deps.events.onEvent((events) => {
      for (const w of this.watchers) w.offer(events);
    });
  }

  /** The grpc-js handler for `Coordinator.Watch` (the token was checked before it, proto/token.ts); never throws. */
  handle(call: WatchCall): void {
    try {
      checkRequest('Watch', call.request);
    } catch (err) {
      const status = errorStatus(err);
      return endWith(call, status.code, status.details);
    }
    if (this.watchers.size >= this.options.maxWatchers) {
      return endWith(
        call,
        grpc.status.RESOURCE_EXHAUSTED,
        `watch: ${this.options.maxWatchers} watch streams are open already, the most this coordinator serves (--watch-max); close one or try again later`,
      );
    }
    const watcher = new Watcher(call, Number(call.request.since_id) || 0, this.deps.events, this.options, this.turns, (w, why) => {
      this.watchers.delete(w);
      if (why) this.deps.log(`watch from ${call.getPeer()} dropped: ${why}`);
    });
    this.watchers.add(watcher);
    watcher.start();
  }

  /** Streams being served. */
  get size(): number {
    return this.watchers.size;
  }

  /** Ends every stream (status OK) and stops listening to the store. */
  close(): void {
    this.unsubscribe();
    for (const w of [...this.watchers]) w.end();
    this.watchers.clear();
  }
}

/** Roughly what an event costs on the wire and in grpc-js's buffer. */
function eventBytes(e: EventRow): number {
  return 48 + e.time.length + e.type.length + e.sweep.length + e.run_id.length + e.agent_id.length + e.data_json.length;
}

/** One Watch stream: a cursor into the event log, and the writes in flight. */
class Watcher {
  /** Id of the last event written to the stream. */
  private last: number;
  /** Id of the last event grpc-js has sent: where a dropped client should resume. */
  private sent: number;
  /** The rest of the page being written. */
  private page: EventRow[] = [];
  private pageAt = 0;
  private pendingBytes = 0;
  private inFlight = 0;
  private paused = false;
  private scheduled = false;
  /** Caught up with the log: committed events are written as they come. */
  private live = false;
  private closed = false;
  private stall: NodeJS.Timeout | undefined;

  constructor(
    private readonly call: WatchCall,
    since: number,
    private readonly events: EventSource,
    private readonly options: Required<WatchOptions>,
    private readonly turns: Turns,
    private readonly onStop: (w: Watcher, why: string | null) => void,
  ) {
    this.last = since;
    this.sent = since;
  }

  start(): void {
    const stop = () => this.stop(null);
    this.call.on('cancelled', stop);
    this.call.on('close', stop);
    this.call.on('finish', stop);
    this.call.on('error', stop);
    this.schedule();
  }

  /** Events just committed: written at once when caught up; otherwise read later from the database. */
  offer(events: EventRow[]): void {
    if (this.closed || this.paused || !this.live) return;
    for (const e of events) {
      if (e.id <= this.last) continue;
      this.write(e);
      if (this.paused) return;
    }
  }

  /** Ends the stream with status OK (the coordinator is shutting down). */
  end(): void {
    if (this.closed) return;
    this.stop(null);
    this.call.end();
  }

  private schedule(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    // One page at a time, in bounded turns: other calls are served between them.
    this.turns.add(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  /** Writes the rest of the page, or the next page, until the stream pauses or the log ends. */
  private pump(): void {
    if (this.closed || this.paused) return;
    if (this.pageAt >= this.page.length) {
      this.page = this.events.eventsSince(this.last, this.options.pageSize);
      this.pageAt = 0;
      if (this.page.length === 0) {
        this.live = true;
        return;
      }
    }
    while (this.pageAt < this.page.length && !this.paused) this.write(this.page[this.pageAt++]!);
    if (!this.paused) this.schedule();
  }

  private write(e: EventRow): void {
    const bytes = eventBytes(e);
    this.pendingBytes += bytes;
    this.inFlight += 1;
    this.last = e.id;
    const ok = this.call.write({ ...e, id: String(e.id) }, () => this.written(bytes, e.id));
    if (!ok || this.pendingBytes >= this.options.bufferBytes) this.pause();
  }

  /** A write went out (grpc-js calls back in order; never after a cancel). */
  private written(bytes: number, id: number): void {
    this.pendingBytes -= bytes;
    this.inFlight -= 1;
    this.sent = id;
    if (!this.paused) return;
    clearTimeout(this.stall);
    if (this.inFlight === 0) {
      this.paused = false;
      this.schedule();
    } else {
      // The client reads, if slowly: the stall clock starts again from this write.
      this.stall = setTimeout(() => this.drop(), this.options.stallMs);
    }
  }

  private pause(): void {
    this.paused = true;
    this.live = false;
    this.stall = setTimeout(() => this.drop(), this.options.stallMs);
  }

  private drop(): void {
    if (this.closed) return;
    const why =
      `the client read nothing for ${this.options.stallMs / 1000} s while ${this.pendingBytes} bytes of events waited ` +
      `(a stream holds at most ${this.options.bufferBytes}); watch again with since_id ${this.sent}`;
    this.stop(why);
    endWith(this.call, grpc.status.RESOURCE_EXHAUSTED, `watch: dropped: ${why}`);
  }

  private stop(why: string | null): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.stall);
    this.page = [];
    this.onStop(this, why);
  }
}
