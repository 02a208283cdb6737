#!/usr/bin/env node
// Loads the TypeScript sources through tsx, so the package runs from a clean clone without a build step.
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

// The package's own tsconfig (JSX for the dashboard), wherever the command is run from: tsx would
// otherwise look for one in the current folder.
register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
await import('../agent/cli.ts');
