#!/usr/bin/env node
// Loads the TypeScript sources through tsx, so the package runs from a clean clone without a build step.
import { register } from 'tsx/esm/api';

register();
await import('../coordinator/cli/main.ts');
