/**
 * Snapshots of a sweep program's folder, so that agents on hosts without a shared file system
 * run the code as it was at submission: the folder is walked (ignore rules applied), hashed by
 * content, packed into one gzip archive the coordinator stores and serves, and extracted by agents
 * into a folder named by the hash, which they keep as a cache. The archive itself (its format,
 * hash, reading and extraction) is lib/sweep/code_archive.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import ignore, { type Ignore } from 'ignore';
import { UsageError } from '../errors.js';
import { DEFAULT_MAX_BYTES, isInside, manifestHash, packArchive, sha256, type ArchivedFile } from './code_archive.js';

export { archiveHash, CorruptSnapshotError, DEFAULT_MAX_BYTES, extractCodeSnapshot } from './code_archive.js';

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

/** The most files a snapshot may hold by default. */
export const DEFAULT_MAX_FILES = 10_000;
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
  return { hash: manifestHash(files), archive: packArchive(files), files: files.length, bytes: files.reduce((sum, f) => sum + f.data.length, 0) };
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

/** Only the executable bit survives: who owns the file, and its other bits, mean nothing on another host. */
function modeOf(stat: fs.Stats): 0o755 | 0o644 {
  return stat.mode & 0o111 ? 0o755 : 0o644;
}

function errorCode(err: unknown): string {
  return (err as NodeJS.ErrnoException)?.code ?? String(err);
}
