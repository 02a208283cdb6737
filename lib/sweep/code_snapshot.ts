/**
 * Snapshots of a sweep program's folder, so that agents on hosts without a shared file system
 * run the code as it was at submission: the folder is walked (ignore rules applied), hashed by
 * content, packed into one gzip archive the coordinator stores and serves, and extracted by agents
 * into a folder named by the hash, which they keep as a cache.
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
import ignore, { type Ignore } from 'ignore';
import { namedError, UsageError } from '../errors.js';

/** A folder's code as one content-addressed archive (createCodeSnapshot). */
export interface CodeSnapshot {
  /** sha256 hex of the canonical manifest (sorted relative paths with mode and each file's sha256): equal for equal content whatever the mtimes or the archive bytes. */
  hash: string;
  /** The archive (format in this file's header comment); the same bytes for equal content. */
  archive: Buffer;
  files: number;
  /** Sum of file sizes, bytes (uncompressed). */
  bytes: number;
}

/** Caps and exclusions of createCodeSnapshot. */
export interface SnapshotOptions {
  /** The most the snapshot's files may hold together, bytes, uncompressed. @default 50 MiB */
  maxBytes?: number;
  /** The most files the snapshot may hold. @default 10_000 */
  maxFiles?: number;
  /** Paths left out wherever they lie in the folder (a coordinator's own database and runs folder). */
  exclude?: string[];
}

/** An archive that is not what its sender made (truncated, altered, crafted): fetch it again. */
export class CorruptSnapshotError extends namedError('CorruptSnapshotError') {}

/** The most a snapshot's files may hold together by default, bytes (uncompressed). */
export const DEFAULT_MAX_BYTES = 50 * 1024 * 1024;
/** The most an archive may inflate to: the default cap's files plus room for a 10,000-file header. */
const MAX_INFLATED_BYTES = DEFAULT_MAX_BYTES + 8 * 1024 * 1024;
/** The most files a snapshot may hold by default. */
export const DEFAULT_MAX_FILES = 10_000;
const FORMAT = 'dlphys-code/1';
const IGNORE_FILE = '.dlphysignore';

/**
 * Default ignore rules (gitignore syntax), applied before the folder's own .gitignore and
 * .dlphysignore (whose `!pattern` can re-include any of them).
 *
 * `runs/` is deliberately not here, although TensorBoard and dlphys both write run folders by that
 * name: it is also a plausible package or config folder of a user's code, and code dropped
 * silently fails only on remote hosts, far from the submission, as an ImportError. An oversized
 * snapshot instead fails loudly at submission, naming `runs/` as the largest entry and the fix.
 */
export const DEFAULT_IGNORES: readonly string[] = [
  '.git', // no slash: also the `.git` file of a git worktree or submodule, which is useless elsewhere
  '__pycache__/',
  '*.pyc',
  '.venv/',
  'venv/',
  'node_modules/',
  'wandb/', // W&B's local run folders
  '.ipynb_checkpoints/',
  '*.egg-info/',
  '.mypy_cache/',
  '.pytest_cache/',
  '.DS_Store',
  '.dlphys-agent*', // an agent's own work folders, when it runs inside the code folder
];

interface Entry {
  /** Relative, `/`-separated. */
  rel: string;
  /** What to read: the file itself, or the target of a symlink to a file inside the folder. */
  source: string;
  size: number;
  mode: 0o755 | 0o644;
}

interface ArchivedFile {
  path: string;
  mode: 0o755 | 0o644;
  sha256: string;
  data: Buffer;
}

/**
 * Snapshots the folder `dir`: its regular files (recursively) minus DEFAULT_IGNORES and the rules of
 * its .gitignore files (the root one and nested ones, each for its subtree) and of its root
 * .dlphysignore, which has the last word. A symlink to a file inside `dir` is stored as that file's
 * content; one to a folder or to anything outside `dir` is skipped, never followed. Everything is
 * stat'ed before anything is read, so a folder over a cap fails fast.
 * @throws UsageError when `dir` is not a folder, a file or folder cannot be read, or the folder is
 *   over `maxBytes` / `maxFiles` (naming its 3 largest top-level entries).
 */
export function createCodeSnapshot(dir: string, options: SnapshotOptions = {}): CodeSnapshot {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const maxFiles = options.maxFiles ?? DEFAULT_MAX_FILES;
  const root = resolveFolder(dir);
  const entries = walk(dir, root, excludeRules(root, options.exclude ?? []));
  checkCaps(dir, entries, maxBytes, maxFiles);

  const files: ArchivedFile[] = entries.map((entry) => {
    let data: Buffer;
    try {
      data = fs.readFileSync(entry.source);
    } catch (err) {
      throw new UsageError(`cannot read ${path.join(dir, entry.rel)} (${errorCode(err)}); add it to ${path.join(dir, IGNORE_FILE)}`);
    }
    return { path: entry.rel, mode: entry.mode, sha256: sha256(data), data };
  });
  const header = { format: FORMAT, files: files.map((f) => ({ path: f.path, mode: modeText(f.mode), size: f.data.length, sha256: f.sha256 })) };
  const archive = zlib.gzipSync(Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), ...files.map((f) => f.data)]), { level: 6 });
  // The gzip header's OS byte is zlib's build platform; "unknown" makes equal content equal bytes on every host.
  archive[9] = 255;
  return { hash: manifestHash(files), archive, files: files.length, bytes: files.reduce((sum, f) => sum + f.data.length, 0) };
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

function resolveFolder(dir: string): string {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch {
    throw new UsageError(`code folder ${dir} does not exist; set code_dir in the sweep to the folder of your program`);
  }
  if (!stat.isDirectory()) throw new UsageError(`code folder ${dir} is not a folder; set code_dir in the sweep to the folder of your program`);
  return fs.realpathSync(dir);
}

/** Every file to snapshot, sorted by path (byte order), stat'ed but not read. */
function walk(dir: string, root: string, extra: string[]): Entry[] {
  const rules = new IgnoreRules(dir, extra);
  const entries: Entry[] = [];
  const visit = (abs: string, prefix: string): void => {
    let names: string[];
    try {
      names = fs.readdirSync(abs);
    } catch (err) {
      throw new UsageError(`cannot read folder ${path.join(dir, prefix)} (${errorCode(err)}); add it to ${path.join(dir, IGNORE_FILE)}`);
    }
    if (prefix !== '' && names.includes('.gitignore')) rules.addNested(prefix, readText(dir, `${prefix}.gitignore`));
    for (const name of names) {
      const rel = prefix + name;
      const full = path.join(abs, name);
      let stat: fs.Stats;
      try {
        stat = fs.lstatSync(full);
      } catch {
        continue; // removed since the readdir
      }
      if (stat.isDirectory()) {
        if (!rules.ignores(`${rel}/`)) visit(full, `${rel}/`);
      } else if (stat.isFile()) {
        if (!rules.ignores(rel)) entries.push({ rel, source: full, size: stat.size, mode: modeOf(stat) });
      } else if (stat.isSymbolicLink() && !rules.ignores(rel)) {
        const target = linkedFile(root, full);
        if (target) entries.push({ rel, source: target.path, size: target.stat.size, mode: modeOf(target.stat) });
      }
      // Sockets, fifos and devices are skipped: they hold no code.
    }
  };
  visit(root, '');
  return entries.sort((a, b) => Buffer.compare(Buffer.from(a.rel), Buffer.from(b.rel)));
}

/** The regular file a symlink resolves to, when it is inside `root`; else undefined (dangling, a folder, outside). */
function linkedFile(root: string, link: string): { path: string; stat: fs.Stats } | undefined {
  try {
    const real = fs.realpathSync(link);
    const stat = fs.statSync(real);
    return isInside(root, real) && stat.isFile() ? { path: real, stat } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The ignore rules, as one `ignore` instance so that a later rule wins over an earlier one exactly
 * as in git, parent folders included: defaults, root .gitignore, nested .gitignore files (their
 * patterns rewritten relative to the root), then the root .dlphysignore.
 */
class IgnoreRules {
  private readonly head: string[];
  private readonly nested: string[] = [];
  private readonly tail: string[];
  private matcher: Ignore;

  constructor(dir: string, extra: string[] = []) {
    this.head = [...DEFAULT_IGNORES, ...extra, ...lines(readText(dir, '.gitignore'))];
    this.tail = lines(readText(dir, IGNORE_FILE));
    this.matcher = this.build();
  }

  /** Adds the rules of `<prefix>.gitignore` (prefix ends with `/`), which apply under prefix only. */
  addNested(prefix: string, text: string): void {
    const base = prefix.split('/').filter(Boolean).map(escapeGlob).join('/');
    for (const line of lines(text)) {
      const negated = line.startsWith('!');
      const pattern = negated ? line.slice(1) : line;
      if (pattern === '' || pattern === '/') continue;
      // gitignore(5): a slash at the start or in the middle anchors a pattern to its .gitignore's folder; else it matches at any depth below.
      const anchored = /\/(?!$)/.test(pattern);
      this.nested.push(`${negated ? '!' : ''}${base}/${anchored ? pattern.replace(/^\//, '') : `**/${pattern}`}`);
    }
    this.matcher = this.build();
  }

  /** Whether the relative path (a folder ends with `/`) is left out of the snapshot. */
  ignores(rel: string): boolean {
    return this.matcher.ignores(rel);
  }

  private build(): Ignore {
    // Case-sensitive on every host, so a folder gives the same snapshot wherever it is submitted from.
    return ignore({ ignorecase: false }).add([...this.head, ...this.nested, ...this.tail]);
  }
}

/** The rule lines of an ignore file: no blanks, no comments. */
function lines(text: string): string[] {
  return text.split(/\r?\n/).filter((line) => line.trim() !== '' && !line.startsWith('#'));
}

/** A folder name as a literal in a gitignore pattern. */
function escapeGlob(name: string): string {
  return name.replace(/[^A-Za-z0-9._\-\u0080-\uffff]/g, (c) => `\\${c}`);
}

/** An ignore file's text, or '' when there is none. */
function readText(dir: string, rel: string): string {
  const file = path.join(dir, rel);
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (errorCode(err) === 'ENOENT' || errorCode(err) === 'EISDIR') return '';
    throw new UsageError(`cannot read ${file} (${errorCode(err)}); make it readable or remove it`);
  }
}

function checkCaps(dir: string, entries: Entry[], maxBytes: number, maxFiles: number): void {
  const bytes = entries.reduce((sum, e) => sum + e.size, 0);
  if (bytes <= maxBytes && entries.length <= maxFiles) return;
  const top = new Map<string, { bytes: number; files: number }>();
  for (const e of entries) {
    const slash = e.rel.indexOf('/');
    const key = slash < 0 ? e.rel : e.rel.slice(0, slash + 1);
    const t = top.get(key) ?? { bytes: 0, files: 0 };
    t.bytes += e.size;
    t.files += 1;
    top.set(key, t);
  }
  const fix = `add them to ${path.join(dir, IGNORE_FILE)}, or set code_dir in the sweep to a smaller folder (data the program reads from its own folder: code_dir: false runs it in place, on a shared file system)`;
  const overBytes = bytes > maxBytes;
  const largest = [...top]
    .sort(([ka, a], [kb, b]) => (overBytes ? b.bytes - a.bytes : b.files - a.files) || (ka < kb ? -1 : 1))
    .slice(0, 3)
    .map(([key, t]) => (overBytes ? `${key} ${formatBytes(t.bytes)}` : `${key} ${t.files} files`))
    .join(', ');
  throw new UsageError(
    overBytes
      ? `code folder ${dir} holds ${formatBytes(bytes)}, over the ${formatBytes(maxBytes)} cap; largest entries: ${largest}; ${fix}`
      : `code folder ${dir} holds ${entries.length} files, over the ${maxFiles}-file cap; largest entries: ${largest}; ${fix}`,
  );
}

/** Anchored ignore rules for the absolute paths in `exclude` that lie inside `root` (a SQLite file's -wal and -shm with it). */
function excludeRules(root: string, exclude: string[]): string[] {
  const out: string[] = [];
  for (const p of exclude) {
    const rel = path.relative(root, path.resolve(p));
    if (!rel || rel.startsWith('..') || path.isAbsolute(rel)) continue;
    const pattern = '/' + rel.split(path.sep).map(escapeGlob).join('/');
    out.push(pattern, `${pattern}-wal`, `${pattern}-shm`);
  }
  return out;
}

/** Bytes for a person, in binary units: "312.4 MiB". */
function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let k = 0;
  while (n >= 1024 && k < units.length - 1) {
    n /= 1024;
    k++;
  }
  return k === 0 ? `${n} B` : `${n.toFixed(1)} ${units[k]}`;
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
function manifestHash(files: readonly ArchivedFile[]): string {
  return sha256(`${FORMAT}\n${JSON.stringify(files.map((f) => [f.path, modeText(f.mode), f.sha256]))}`);
}

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Only the executable bit survives: who owns the file, and its other bits, mean nothing on another host. */
function modeOf(stat: fs.Stats): 0o755 | 0o644 {
  return stat.mode & 0o111 ? 0o755 : 0o644;
}

function modeText(mode: 0o755 | 0o644): '755' | '644' {
  return mode === 0o755 ? '755' : '644';
}

function isInside(root: string, p: string): boolean {
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

function errorCode(err: unknown): string {
  return (err as NodeJS.ErrnoException)?.code ?? String(err);
}
