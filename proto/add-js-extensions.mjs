// proto-loader-gen-types writes extensionless relative imports; Node's ESM resolution (and
// TypeScript's nodenext) wants the `.js` suffix. Rewrites them in place after generation.
import fs from 'node:fs';
import path from 'node:path';

const root = new URL('./generated/', import.meta.url).pathname;
for (const entry of fs.readdirSync(root, { recursive: true })) {
  const file = path.join(root, String(entry));
  if (!file.endsWith('.ts')) continue;
  const text = fs.readFileSync(file, 'utf8');
  fs.writeFileSync(file, text.replace(/from '(\.{1,2}\/[^']+?)(?<!\.js)'/g, "from '$1.js'"));
}
