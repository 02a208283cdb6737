/**
 * W&B tells int_uniform from uniform by the YAML type of min/max (`min: 0.0` is a float); parsing
 * loses that (0.0 === 0). So for a file we look at the literals: a parameter without a distribution
 * whose integer-valued min or max was written with a fraction or exponent gets an explicit
 * `"distribution": "uniform"`, recorded in the stored spec so expanding it again agrees. `floats`
 * holds the paths (JSON arrays of keys) of the number literals so written: floatLiteralPaths for
 * JSON text, lib/sweep/sweep_file.ts for YAML.
 */
export function markFloatRanges(parsed: unknown, floats: ReadonlySet<string>): unknown {
  if (floats.size === 0 || parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return parsed;
  const root = parsed as Record<string, unknown>;
  if (root.parameters === null || typeof root.parameters !== 'object') return parsed;
  const out = structuredClone(root);
  const visit = (params: unknown, at: string[]) => {
    if (params === null || typeof params !== 'object' || Array.isArray(params)) return;
    for (const [key, spec] of Object.entries(params as Record<string, unknown>)) {
      if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) continue;
      const s = spec as Record<string, unknown>;
      const here = [...at, key];
      if (s.parameters !== undefined) {
        visit(s.parameters, [...here, 'parameters']);
        continue;
      }
      if (s.distribution !== undefined || s.values !== undefined || 'value' in s) continue;
      if (!Number.isInteger(s.min) || !Number.isInteger(s.max)) continue;
      if (floats.has(JSON.stringify([...here, 'min'])) || floats.has(JSON.stringify([...here, 'max']))) s.distribution = 'uniform';
    }
  };
  visit(out.parameters, ['parameters']);
  return out;
}

/** Paths (JSON arrays of keys) of the number literals in valid JSON text written with `.`, `e` or `E`; throws on text that is not JSON. */
export function floatLiteralPaths(text: string): Set<string> {
  const found = new Set<string>();
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const str = (): string => {
    const start = i++;
    while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (at: (string | number)[]): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') return void i++;
      for (;;) {
        ws();
        const key = str();
        ws();
        i++; // ':'
        value([...at, key]);
        ws();
        if (text[i++] === '}') return;
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (let n = 0; ; n++) {
        value([...at, n]);
        ws();
        if (text[i++] === ']') return;
      }
    }
    if (c === '"') return void str();
    const m = /-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null/y;
    m.lastIndex = i;
    const hit = m.exec(text);
    if (!hit) throw new Error('not JSON');
    if (hit[1] !== undefined || hit[2] !== undefined) found.add(JSON.stringify(at));
    i += hit[0].length;
  };
  value([]);
  return found;
}
