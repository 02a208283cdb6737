// Entry point of a runner child (forked by the agent): loads the TypeScript sources through tsx.
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
