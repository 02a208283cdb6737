import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package's root folder. Every lookup of a file of the package (worker scripts, native/*.wasm,
 * package.json, the runner's sources and bundle) goes through here, by its path from the root,
 * and never from the looking module's own location: the agent's compiled runner
 * (lib/runner.generated.mjs, see agent/runner_bundle.ts) is one file, where every bundled module's
 * import.meta.url is the bundle's. This module's own URL is the same depth below the root whether
 * it runs from lib/package_dir.ts (tsx) or inside lib/runner.generated.mjs, so both see one root.
 */
export const packageDir = fileURLToPath(new URL('..', import.meta.url));

/** A file of the package, by its path from the root: packagePath('native', 'gemm.wasm'). */
export function packagePath(...segments: string[]): string {
  return path.join(packageDir, ...segments);
}
