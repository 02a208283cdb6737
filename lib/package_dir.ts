import { fileURLToPath } from 'node:url';

/**
 * The package's root folder. Modules that find files beside the sources do it from here or from
 * their own import.meta.url, which the agent's compiled runner (build/runner.generated.mjs) keeps
 * as each module's source file URL (agent/launch/bundle.ts).
 */
export const packageDir = fileURLToPath(new URL('..', import.meta.url));
