import { fileURLToPath } from 'node:url';

/**
 * The package's root folder. Modules that find files beside the sources do it from here or from
 * lib/ itself, because the agent's compiled runner (lib/runner.generated.mjs, see
 * agent/runner_bundle.ts) is one file in lib/, where every module's import.meta.url is its own.
 */
export const packageDir = fileURLToPath(new URL('..', import.meta.url));
