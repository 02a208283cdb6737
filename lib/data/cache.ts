import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { version } from '../version.js';

/**
 * Generated datasets on disk, so that the runs of a sweep that share a data config (a sweep over
 * seeds or learning rates) read their data instead of drawing it again: 8192 x 784 Gaussian
 * features take ~0.3 s of CPU to draw and ~10 ms to read. Generation is deterministic in its
 * config, so a cached copy is the same data bit for bit; the key includes the package version and
 * a per-generator version, which must be bumped whenever a generator's output would change.
 *
 * Where: $DLPHYS_CACHE_DIR, else $XDG_CACHE_HOME/dlphys, else ~/.cache/dlphys; DLPHYS_CACHE_DIR=off
 * turns it off. Files are written aside and renamed (concurrent runs never read half a file), a
 * file that does not read back whole is drawn again, and beyond MAX_BYTES the least recently
 * used files go.
 */

export type Arrays = Record<string, Float32Array | Int32Array>;

const MAX_BYTES = 2 * 2 ** 30;
const MAGIC = 'dlphys-data-1\n';

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string | null {
  const set = env.DLPHYS_CACHE_DIR;
  if (set === 'off') return null;
  if (set) return path.join(set, 'data');
  return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'dlphys', 'data');
}

/**
 * The last datasets this process read or drew, by cache file: a runner that trains run after run
 * of one sweep hands the next run its data from memory, copied (a dataset may scale its arrays in
 * place), without reading the file again. At most MEMORY_BYTES. A copy is used only while its file
 * is the one it came from (same inode and size: files are replaced by rename), not by modification
 * time, which every reader's touch moves; a memory hit touches the file too (at most once a
 * minute), so that the disk cache's eviction by last use sees the file in use.
 */
const memory = new Map<string, { arrays: Arrays; size: number; ino: number; touchedAt: number }>();
const MEMORY_BYTES = 512 * 2 ** 20;
const TOUCH_EVERY_MS = 60_000;
const bytesOf = (arrays: Arrays) => Object.values(arrays).reduce((n, a) => n + a.byteLength, 0);
const copyOf = <T extends Arrays>(arrays: T): T => Object.fromEntries(Object.entries(arrays).map(([k, a]) => [k, a.slice()])) as T;

function remember(file: string, arrays: Arrays): void {
  memory.delete(file);
  const stat = statOf(file);
  if (!stat || bytesOf(arrays) > MEMORY_BYTES) return;
  memory.set(file, { arrays: copyOf(arrays), ...stat, touchedAt: Date.now() });
  let total = [...memory.values()].reduce((n, e) => n + bytesOf(e.arrays), 0);
  for (const [key, entry] of memory) {
    if (total <= MEMORY_BYTES) break;
    memory.delete(key);
    total -= bytesOf(entry.arrays);
  }
}

function statOf(file: string): { size: number; ino: number } | null {
  try {
    const { size, ino } = fs.statSync(file);
    return { size, ino };
  } catch {
    return null;
  }
}

function touch(file: string): void {
  const now = new Date();
  try {
    fs.utimesSync(file, now, now);
  } catch {
    // read already; nothing lost
  }
}

/** `draw()`'s arrays for `key` (a JSON-able description of everything they depend on), from the cache when there. */
export function cachedArrays<T extends Arrays>(key: unknown, draw: () => T): T {
  const dir = cacheDir();
  if (!dir) return draw();
  const file = path.join(dir, `${createHash('sha256').update(JSON.stringify({ dlphys: version, key })).digest('hex').slice(0, 32)}.bin`);
  const held = memory.get(file);
  const current = held && statOf(file);
  if (held && current && current.size === held.size && current.ino === held.ino) {
    // Most recently used last, so the oldest goes first when memory is full.
    memory.delete(file);
    memory.set(file, held);
    if (Date.now() - held.touchedAt >= TOUCH_EVERY_MS) {
      touch(file);
      held.touchedAt = Date.now();
    }
    return copyOf(held.arrays) as T;
  }
  const hit = read(file);
  if (hit) {
    // Touched, so that eviction goes by last use (another process may have evicted it since).
    touch(file);
    remember(file, hit);
    return hit as T;
  }
  const arrays = draw();
  // A dataset bigger than the whole cache would only push everything else out, itself included.
  if (bytesOf(arrays) > MAX_BYTES) return arrays;
  try {
    write(dir, file, arrays);
    remember(file, arrays);
  } catch {
    // A cache that cannot be written (read-only home, full disk) costs only the time saved.
  }
  return arrays;
}

/** Layout: MAGIC, a JSON header line [{name, type, length}], then each array's bytes, 4-aligned. */
function write(dir: string, file: string, arrays: Arrays): void {
  fs.mkdirSync(dir, { recursive: true });
  const entries = Object.entries(arrays).map(([name, a]) => ({ name, type: a instanceof Float32Array ? 'f32' : 'i32', length: a.length }));
  let head = Buffer.from(`${MAGIC}${JSON.stringify(entries)}\n`);
  head = Buffer.concat([head, Buffer.alloc((4 - (head.length % 4)) % 4, 0x20)]);
  const temp = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(temp, Buffer.concat([head, ...Object.values(arrays).map((a) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength))]));
    fs.renameSync(temp, file);
  } catch (err) {
    fs.rmSync(temp, { force: true });
    throw err;
  }
  evict(dir);
}

function read(file: string): Arrays | null {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch {
    return null;
  }
  if (bytes.subarray(0, MAGIC.length).toString() !== MAGIC) return null;
  const end = bytes.indexOf(0x0a, MAGIC.length);
  if (end < 0) return null;
  try {
    const entries = JSON.parse(bytes.subarray(MAGIC.length, end).toString()) as { name: string; type: string; length: number }[];
    let offset = end + 1;
    offset += (4 - (offset % 4)) % 4;
    const out: Arrays = {};
    for (const { name, type, length } of entries) {
      const size = length * 4;
      if (offset + size > bytes.length) return null;
      // Copied out: the typed array must own aligned memory of its own.
      const chunk = new Uint8Array(size);
      chunk.set(bytes.subarray(offset, offset + size));
      out[name] = type === 'f32' ? new Float32Array(chunk.buffer) : new Int32Array(chunk.buffer);
      offset += size;
    }
    return offset === bytes.length ? out : null;
  } catch {
    return null;
  }
}

function evict(dir: string): void {
  const names = fs.readdirSync(dir);
  // Left by a writer that was killed mid-write; an hour is far longer than any write takes.
  for (const f of names.filter((n) => n.endsWith('.tmp'))) {
    const stat = fs.statSync(path.join(dir, f), { throwIfNoEntry: false });
    if (stat && Date.now() - stat.mtimeMs > 3600_000) fs.rmSync(path.join(dir, f), { force: true });
  }
  const files = names
    .filter((f) => f.endsWith('.bin'))
    .flatMap((f) => {
      // Another process may evict the same file first.
      const stat = fs.statSync(path.join(dir, f), { throwIfNoEntry: false });
      return stat ? [{ f, size: stat.size, used: stat.mtimeMs }] : [];
    })
    .sort((a, b) => b.used - a.used);
  let total = 0;
  for (const { f, size } of files) {
    total += size;
    if (total > MAX_BYTES) fs.rmSync(path.join(dir, f), { force: true });
  }
}
