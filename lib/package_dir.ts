import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package's root folder. Every lookup of a file of the package (worker scripts, native/*.wasm,
 * package.json, the runner's sources) goes through here, by its path from the root. The agent's
 * compiled runner (build/runner.generated.mjs) keeps each bundled module's import.meta.url as its
 * source file's (agent/launch/bundle.ts), so the sources and the compiled runner see one root.
 */
export const packageDir = fileURLToPath(new URL('..', import.meta.url));

/** A file of the package, by its path from the root: packagePath('native', 'gemm.wasm'). */
export function packagePath(...segments: string[]): string {
  return path.join(packageDir, ...segments);
}
