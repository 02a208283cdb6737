/**
 * Landing a received run folder in the runs dir: the staging folder replaces
 * `<runsDir>/<sweep>/<name>/` by renames, durably (files and folders fsynced first), one landing
 * per target at a time; and, at start, cleaning up what a crashed coordinator left half done.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';

/** Staging folders live here, on the same filesystem as the landed folders, so rename is atomic. */
export const INCOMING = '.incoming';
/** A landed folder moved aside while its replacement is renamed in: `<sweep>/.<name>.old-<hex>`. */
const ASIDE = /^\.(.+)\.old-[0-9a-f]+$/;

/** Per landing target: uploads of the same run land one after the other. */
const landing = new Map<string, Promise<unknown>>();

/**
 * Makes `staging` the folder `<runsDir>/<sweep>/<name>`: an earlier folder is renamed aside, the
 * staging folder renamed into place, then the old one deleted. A crash between the two renames
 * leaves the old folder aside, which {@link cleanStaging} puts back.
 */
export async function land(runsDir: string, staging: string, sweep: string, name: string, recheck: () => void): Promise<void> {
  const target = path.join(runsDir, sweep, name);
  const previous = landing.get(target) ?? Promise.resolve();
  const mine = previous.catch(() => undefined).then(async () => {
    recheck();
    await mkdir(path.dirname(target), { recursive: true });
    const aside = path.join(runsDir, sweep, `.${name}.old-${randomBytes(6).toString('hex')}`);
    let movedAside = false;
    try {
      await rename(target, aside);
      movedAside = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    await syncDirs(staging);
    try {
      await rename(staging, target);
    } catch (err) {
      if (movedAside) await rename(aside, target).catch(() => undefined);
      throw err;
    }
    // The renamed entry is durable once its parent directory is synced.
    await syncDir(path.dirname(target));
    if (movedAside) await rm(aside, { recursive: true, force: true }).catch(() => undefined);
  });
  landing.set(target, mine);
  try {
    await mine;
  } finally {
    if (landing.get(target) === mine) landing.delete(target);
  }
}

/**
 * Removes what a crashed coordinator left: staging folders under `<runsDir>/.incoming/`, and
 * folders moved aside during a landing (restored when their run folder is missing, else
 * deleted). Call once at start, before serving uploads.
 */
export async function cleanStaging(runsDir: string): Promise<{ removed: number; restored: number }> {
  const root = path.resolve(runsDir);
  let removed = 0;
  let restored = 0;
  const incoming = path.join(root, INCOMING);
  for (const entry of await readdir(incoming).catch(() => [] as string[])) {
    await rm(path.join(incoming, entry), { recursive: true, force: true });
    removed += 1;
  }
  await rm(incoming, { recursive: true, force: true });
  for (const sweep of await readdir(root, { withFileTypes: true }).catch(() => [])) {
    if (!sweep.isDirectory() || sweep.name.startsWith('.')) continue;
    const sweepDir = path.join(root, sweep.name);
    for (const entry of await readdir(sweepDir).catch(() => [] as string[])) {
      const m = ASIDE.exec(entry);
      if (!m) continue;
      const aside = path.join(sweepDir, entry);
      const target = path.join(sweepDir, m[1] as string);
      if (await exists(target)) {
        await rm(aside, { recursive: true, force: true });
        removed += 1;
      } else {
        await rename(aside, target);
        restored += 1;
      }
    }
  }
  return { removed, restored };
}

/** fsync of a directory: makes the entries created or renamed in it durable. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** syncDir on `root` and every directory under it (a run folder has a handful). */
async function syncDirs(root: string): Promise<void> {
  for (const entry of await readdir(root, { withFileTypes: true })) {
    if (entry.isDirectory()) await syncDirs(path.join(root, entry.name));
  }
  await syncDir(root);
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

