import fs from 'node:fs';

const CHUNK = 64 * 1024;

/**
 * The last `n` lines of a text file (without their newlines), read backwards from its end so a
 * long train.log costs what the tail costs; [] when the file does not exist or n <= 0.
 */
export function tailLines(file: string, n: number): string[] {
  if (n <= 0) return [];
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  try {
    let end = fs.fstatSync(fd).size;
    const chunks: Buffer[] = [];
    let newlines = 0;
    // n lines need n newlines before them, plus the file's own trailing one.
    while (end > 0 && newlines <= n) {
      const start = Math.max(0, end - CHUNK);
      const buf = Buffer.alloc(end - start);
      fs.readSync(fd, buf, 0, buf.length, start);
      chunks.unshift(buf);
      for (const byte of buf) if (byte === 0x0a) newlines++;
      end = start;
    }
    const lines = Buffer.concat(chunks).toString('utf8').split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    // The first piece may be the end of a line cut by the chunk boundary: drop it unless it is the file's start.
    if (end > 0) lines.shift();
    return lines.slice(-n);
  } finally {
    fs.closeSync(fd);
  }
}
