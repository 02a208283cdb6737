import { readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { UsageError } from '../errors.js';

/**
 * The IDX format of MNIST and Fashion-MNIST: a 4-byte magic (0x00, 0x00, type, ndim), ndim
 * big-endian int32 dims, then the values in row-major order. Only the unsigned-byte type
 * (0x08) is supported: it is the only one those datasets use.
 */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

const UBYTE = 0x08;

/**
 * Reads an IDX file, plain or gzipped (recognised by its content, not its name). With `ndim`,
 * the file must hold an array of that many dimensions (3 for images, 1 for labels). A bad magic
 * or a size that disagrees with the header is a UsageError naming the file.
 */
export function readIdx(file: string, ndim?: number): IdxArray {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UsageError(`IDX file not found: ${file} (check the path)`);
    throw new UsageError(`cannot read IDX file ${file}: ${(err as Error).message}`);
  }
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = gunzipSync(buf);
    } catch (err) {
      throw new UsageError(`${file} looks gzipped but does not decompress (${(err as Error).message}); download it again`);
    }
  }
  const expected = ndim === undefined ? '0x000008NN' : hex(magicOf(ndim));
  if (buf.length < 4 || buf[0] !== 0 || buf[1] !== 0 || buf[2] !== UBYTE || (ndim !== undefined && buf[3] !== ndim)) {
    const got = buf.length < 4 ? `only ${buf.length} bytes` : `magic ${hex(buf.readUInt32BE(0))}`;
    const kind = ndim === undefined ? 'an unsigned-byte IDX file' : `a ${ndim}-D unsigned-byte IDX file`;
    throw new UsageError(`${file} is not ${kind} (${got}, expected ${expected}); check that it is the right file`);
  }
  const n = buf[3]!;
  const headerBytes = 4 + 4 * n;
  if (buf.length < headerBytes) {
    throw new UsageError(`${file} is truncated: its header needs ${headerBytes} bytes, the file has ${buf.length}; download it again`);
  }
  const dims: number[] = [];
  for (let i = 0; i < n; i++) dims.push(buf.readUInt32BE(4 + 4 * i));
  const size = dims.reduce((a, b) => a * b, 1);
  if (buf.length !== headerBytes + size) {
    const what = buf.length < headerBytes + size ? 'is truncated' : 'has trailing bytes';
    throw new UsageError(
      `${file} ${what}: its header [${dims.join(', ')}] needs ${size} data bytes, the file has ${buf.length - headerBytes}; download it again`,
    );
  }
  return { dims, data: new Uint8Array(buf.buffer, buf.byteOffset + headerBytes, size) };
}

/** Writes `data` as an unsigned-byte IDX array of shape `dims`; a name ending in .gz is gzipped. */
export function writeIdx(file: string, data: Uint8Array, dims: readonly number[]): void {
  if (dims.length < 1 || dims.length > 255 || dims.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`writeIdx: bad dims [${dims.join(', ')}]`);
  }
  const size = dims.reduce((a, b) => a * b, 1);
  if (size !== data.length) throw new Error(`writeIdx: dims [${dims.join(', ')}] hold ${size} values, data has ${data.length}`);
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(magicOf(dims.length), 0);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  const bytes = Buffer.concat([header, data]);
  writeFileSync(file, file.endsWith('.gz') ? gzipSync(bytes) : bytes);
}

function magicOf(ndim: number): number {
  return (UBYTE << 8) | ndim;
}

function hex(v: number): string {
  return `0x${v.toString(16).padStart(8, '0')}`;
}
