import { readFileSync } from 'node:fs';

/** The package version, read from package.json beside the sources (not from the current directory). */
export const version: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;
