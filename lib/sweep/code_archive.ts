/**
 * The archive of a code snapshot (lib/sweep/code_snapshot.ts makes it from a folder): its format,
 * its content hash, and reading and extracting it, checked at every step, since it crosses hosts.
 *
 * Archive format "dlphys-code/1", gzipped: one JSON header line
 *   {"format":"dlphys-code/1","files":[{"path":"a/b.py","mode":"644","size":12,"sha256":"…"},…]}\n
 * then every file's bytes, concatenated in header order. Paths are relative, `/`-separated, sorted
 * by byte order; mode is "755" or "644". The hash is the sha256 of the manifest (path, mode, sha256
 * of each file), so it names the content whatever the mtimes, the gzip level or the zlib version.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { namedError } from '../errors.js';

/** The most a snapshot's files may hold together by default, bytes (uncompressed). */
export const DEFAULT_MAX_BYTES = 50 * 1024 * 1024;
/** The most an archive may inflate to: the default cap's files plus room for a 10,000-file header. */
const MAX_INFLATED_BYTES = DEFAULT_MAX_BYTES + 8 * 1024 * 1024;
const FORMAT = 'dlphys-code/1';

/** An archive that is not what its sender made (truncated, altered, crafted): fetch it again. */
export class CorruptSnapshotError extends namedError('CorruptSnapshotError') {}

/** One file of a snapshot: its relative `/` path, executable bit, content hash and bytes. */
export interface ArchivedFile {
  path: string;
  mode: 0o755 | 0o644;
  sha256: string;
  data: Buffer;
}

/** The archive of `files` (sorted by path): deterministic, equal content giving equal bytes. */
export function packArchive(files: readonly ArchivedFile[]): Buffer {
  const header = { format: FORMAT, files: files.map((f) => ({ path: f.path, mode: modeText(f.mode), size: f.data.length, sha256: f.sha256 })) };
  const archive = zlib.gzipSync(Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), ...files.map((f) => f.data)]), { level: 6 });
  // The gzip header's OS byte is zlib's build platform; "unknown" makes equal content equal bytes on every host.
  archive[9] = 255;
  return archive;
}

/**
 * The hash of an archive's content (what createCodeSnapshot put in `hash`), recomputed from the
 * files it holds, for a receiver to check what it was sent.
 * @throws CorruptSnapshotError when the archive is not a well-formed dlphys-code/1 archive.
 */
export function archiveHash(archive: Buffer): string {
  return manifestHash(readArchive(archive));
}

/**
 * Checks `archive` against `hash` and writes its files under `destDir` atomically: into a temp
 * sibling folder, then renamed into place. When `destDir` already exists (another agent, or an
 * earlier run, extracted it) it is left as it is and the temp removed. Restores the executable bit.
 * @returns destDir
 * @throws CorruptSnapshotError on a corrupt archive, a hash mismatch, or a path that would leave
 *   destDir; nothing is written then.
 */
export function extractCodeSnapshot(archive: Buffer, hash: string, destDir: string): string {
  const files = readArchive(archive);
  const actual = manifestHash(files);
  if (actual !== hash) throw new CorruptSnapshotError(`code snapshot hash mismatch: expected ${hash}, the archive holds ${actual}`);
  const dest = path.resolve(destDir);
  if (exists(dest)) {
    if (!fs.statSync(dest).isDirectory()) throw new Error(`cannot extract the code snapshot into ${destDir}: it exists and is not a folder`);
    return destDir;
  }

  const parent = path.dirname(dest);
  fs.mkdirSync(parent, { recursive: true });
  // A sibling, so that the rename stays on one file system and is atomic. The folder keeps
  // mkdtemp's 0700: only the agent's own user runs the code.
  const temp = fs.mkdtempSync(path.join(parent, `.${path.basename(dest)}.tmp-`));
  let renamed = false;
  try {
    for (const file of files) {
      const target = path.resolve(temp, ...file.path.split('/'));
      // readArchive already refused `..` and absolute paths; this also covers `\` on Windows.
      if (!isInside(temp, target)) throw new CorruptSnapshotError(`code snapshot archive is corrupt: path ${JSON.stringify(file.path)} leaves the folder`);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      // 'wx' never follows a symlink: the temp folder is new and holds only what is written here.
      fs.writeFileSync(target, file.data, { flag: 'wx', mode: file.mode });
    }
    try {
      fs.renameSync(temp, dest);
      renamed = true;
    } catch (err) {
      // Another extractor renamed its copy first (ENOTEMPTY/EEXIST, EPERM on Windows): same content, keep theirs.
      if (!exists(dest)) throw err;
    }
  } finally {
    if (!renamed) fs.rmSync(temp, { recursive: true, force: true });
  }
  return destDir;
}

/** The files of an archive, every one checked against its header entry. */
function readArchive(archive: Buffer): ArchivedFile[] {
  const corrupt = (why: string) => new CorruptSnapshotError(`code snapshot archive is corrupt: ${why}`);
  let raw: Buffer;
  try {
    // Bounded: a small archive must not inflate to gigabytes in the coordinator or an agent.
    raw = zlib.gunzipSync(archive, { maxOutputLength: MAX_INFLATED_BYTES });
  } catch (err) {
    throw corrupt(`not a valid gzip stream (${err instanceof Error ? err.message : String(err)})`);
  }
  const end = raw.indexOf(0x0a);
  if (end < 0) throw corrupt('no header line');
  let header: unknown;
  try {
    header = JSON.parse(raw.subarray(0, end).toString('utf8'));
  } catch {
    throw corrupt('the header is not JSON');
  }
  const h = header as { format?: unknown; files?: unknown };
  if (h === null || typeof h !== 'object' || h.format !== FORMAT || !Array.isArray(h.files)) throw corrupt(`the header is not ${FORMAT}`);

  const files: ArchivedFile[] = [];
  const folders = new Set<string>();
  let offset = end + 1;
  let previous: Buffer | undefined;
  for (const item of h.files as unknown[]) {
    const f = item as { path?: unknown; mode?: unknown; size?: unknown; sha256?: unknown };
    if (f === null || typeof f !== 'object' || typeof f.path !== 'string' || typeof f.sha256 !== 'string') throw corrupt('a malformed file entry');
    if (!Number.isSafeInteger(f.size) || (f.size as number) < 0 || (f.mode !== '755' && f.mode !== '644')) throw corrupt(`a malformed entry for ${JSON.stringify(f.path)}`);
    const segments = f.path.split('/');
    if (f.path.includes('\0') || segments.some((s) => s === '' || s === '.' || s === '..')) throw corrupt(`path ${JSON.stringify(f.path)} leaves the folder or is not relative`);
    const key = Buffer.from(f.path);
    if (previous && Buffer.compare(previous, key) >= 0) throw corrupt('the paths are not sorted and unique');
    previous = key;
    for (let i = 1; i < segments.length; i++) folders.add(segments.slice(0, i).join('/'));
    const data = raw.subarray(offset, offset + (f.size as number));
    offset += f.size as number;
    if (data.length !== f.size || sha256(data) !== f.sha256) throw corrupt(`the content of ${f.path} does not match its sha256`);
    files.push({ path: f.path, mode: f.mode === '755' ? 0o755 : 0o644, sha256: f.sha256, data });
  }
  if (offset !== raw.length) throw corrupt('bytes after the last file');
  const clash = files.find((f) => folders.has(f.path));
  if (clash) throw corrupt(`${clash.path} is both a file and a folder`);
  return files;
}

/** The content hash: sha256 of the sorted [path, mode, sha256] list, nothing else. */
export function manifestHash(files: readonly ArchivedFile[]): string {
  return sha256(`${FORMAT}\n${JSON.stringify(files.map((f) => [f.path, modeText(f.mode), f.sha256]))}`);
}

/** sha256 hex of bytes or text. */
export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function modeText(mode: 0o755 | 0o644): '755' | '644' {
  return mode === 0o755 ? '755' : '644';
}

/** Whether `p` lies strictly inside the folder `root`. */
export function isInside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
}

function exists(p: string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

