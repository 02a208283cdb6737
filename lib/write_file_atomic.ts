import fs from 'node:fs';
import { UsageError } from './errors.js';

/**
 * Writes `data` to `file` whole or not at all: a temp file beside it, then a rename, so an
 * interrupted command never leaves half a CSV, plot or page behind.
 * @throws UsageError naming the file, the reason and `fix` when it cannot be written.
 */
export function writeFileAtomic(file: string, data: string | Buffer, fix = 'check the folder exists and is writable'): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw new UsageError(`cannot write ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} (${fix})`);
  }
}
