/**
 * The last lines of a text file (a run's train.log), read from its end: a run that logged for a
 * week costs what its last lines cost, not the whole file.
 */
import { open, type FileHandle } from 'node:fs/promises';

/** Bytes read from the end at a time. */
const CHUNK = 64 * 1024;

/**
 * The last `n` lines of `file` (UTF-8, without their line ends; a last line without a newline
 * counts), reading at most `maxBytes` from its end: when the last `n` lines are longer than that
 * together, fewer come back (the first line cut by the limit is left out, never half a line).
 * [] for n <= 0, a missing file, or an empty one. Other errors (a folder, no permission) reject.
 */
export async function tailLines(file: string, n: number, maxBytes = 1024 * 1024): Promise<string[]> {
  if (n <= 0) return [];
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw err;
  }
  try {
    const size = (await handle.stat()).size;
    if (size === 0) return [];
    const limit = Math.min(size, maxBytes);
    // Filled from its end: buf[start..limit) holds the file's last limit - start bytes.
    const buf = Buffer.alloc(limit);
    let start = limit;
    let newlines = 0;
    // A newline that ends the file ends its last line; it does not start another.
    const trailing = (await readAt(handle, size - 1, 1))[0] === 0x0a ? 1 : 0;
    while (start > 0 && newlines < n + trailing) {
      const len = Math.min(CHUNK, start);
      start -= len;
      const { bytesRead } = await handle.read(buf, start, len, size - limit + start);
      if (bytesRead < len) throw new Error(`${file} shrank while it was read`);
      for (let i = start + len - 1; i >= start; i--) if (buf[i] === 0x0a) newlines++;
    }
    let text = buf.subarray(start).toString('utf8');
    if (trailing) text = text.slice(0, -1);
    const lines = text.split('\n');
    // Cut by maxBytes rather than at the file's start: the first line may be a partial one.
    if (start === 0 && limit < size && lines.length > 0 && newlines < n + trailing) lines.shift();
    return lines.slice(-n).map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  } finally {
    await handle.close();
  }
}

async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = await handle.read(buf, 0, length, position);
  return buf.subarray(0, bytesRead);
}
