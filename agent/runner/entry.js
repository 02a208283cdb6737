// Entry point of a runner child (forked by the agent): loads the TypeScript sources through tsx.
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

// The package's own tsconfig, whatever folder the agent runs in (bin/*.js do the same).
register({ tsconfig: fileURLToPath(new URL('../../tsconfig.json', import.meta.url)) });
await import('./main.ts');
