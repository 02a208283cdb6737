import { Command } from 'commander';
import { registries, type RegistryKind } from '../registries.js';
import { UsageError } from '../errors.js';

const KINDS = Object.keys(registries) as RegistryKind[];

export function listCommand(): Command {
  return new Command('list')
    .description(`List registered components with their kwargs and defaults (kinds: ${KINDS.join(', ')}).`)
    .argument('[kind]', 'only this kind')
    .option('--json', 'machine-readable output', false)
    .addHelpText('after', '\nExamples:\n  $ dlphys list\n  $ dlphys list model\n  $ dlphys list init --json')
    .action((kind: string | undefined, flags: { json: boolean }) => {
      if (kind !== undefined && !KINDS.includes(kind as RegistryKind)) {
        throw new UsageError(`unknown kind "${kind}"; kinds: ${KINDS.join(', ')}`);
      }
      const kinds = kind ? [kind as RegistryKind] : KINDS;
      const described = kinds.map((k) => ({ kind: k, components: registries[k].names().map((n: string) => registries[k].describe(n)) }));
      if (flags.json) {
        process.stdout.write(JSON.stringify(described, null, 2) + '\n');
        return;
      }
      const out: string[] = [];
      for (const { kind: k, components } of described) {
        out.push(`${k}:`);
        for (const c of components) {
          out.push(`  ${c.name}  ${c.description}`);
          for (const kw of c.kwargs) {
            const dflt = kw.required ? 'required' : kw.default !== undefined ? `default ${JSON.stringify(kw.default)}` : 'optional';
            out.push(`      ${kw.name}: ${kw.type}  (${dflt})${kw.description ? `  ${kw.description}` : ''}`);
          }
          if (c.logs) {
            out.push('    logs:');
            for (const [key, meaning] of Object.entries(c.logs)) out.push(`      ${key}  ${meaning}`);
          }
        }
        out.push('');
      }
      process.stdout.write(out.join('\n'));
    });
}
