import { readFileSync } from 'node:fs';
import { packagePath } from './package_dir.js';

/** The package version, read from package.json beside the sources (not from the current directory). */
export const version: string = JSON.parse(readFileSync(packagePath('package.json'), 'utf8')).version;
