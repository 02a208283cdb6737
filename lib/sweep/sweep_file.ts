import path from 'node:path';
import { isMap, isScalar, isSeq, parseDocument, type Node } from 'yaml';
import { readTextFile } from '../config.js';
import { UsageError } from '../errors.js';
import { floatLiteralPaths } from './float_ranges.js';

/** A sweep file as read: the parsed spec, and where number literals were written as floats. */
export interface SweepFile {
  spec: unknown;
  /** Paths (JSON arrays of keys) of numbers written with `.`, `e` or `E` (see markFloatRanges). */
  floats: Set<string>;
  format: 'json' | 'yaml';
}

/**
 * Reads a sweep file, JSON or YAML (W&B users' `sweep.yaml`): `.json` is JSON, `.yaml`/`.yml`
 * YAML, and any other file JSON if it parses as JSON, else YAML. YAML is read with the `yaml`
 * package's YAML 1.2 core schema, where `1e-3` is a number as W&B users expect (YAML 1.1 would
 * make it a string), plus the `<<` merge keys of YAML 1.1 that sweep files use for shared blocks.
 * A syntax error is a UsageError naming the file, line and column; a duplicate key is one too.
 */
export function readSweepFile(file: string): SweepFile {
  const text = readTextFile(file, 'sweep');
  const ext = path.extname(file).toLowerCase();
  if (ext === '.json' || (ext !== '.yaml' && ext !== '.yml' && looksLikeJson(text))) {
    let spec: unknown;
    try {
      spec = JSON.parse(text);
    } catch (err) {
      throw new UsageError(`sweep file ${file} is not valid JSON: ${(err as Error).message} (fix the syntax)`);
    }
    return { spec, floats: floatLiteralPaths(text), format: 'json' };
  }
  const doc = parseDocument(text, { merge: true, uniqueKeys: true, prettyErrors: true });
  const error = doc.errors[0];
  if (error) {
    const where = error.linePos?.[0] ? ` at line ${error.linePos[0].line}, column ${error.linePos[0].col}` : '';
    const message = error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    throw new UsageError(`sweep file ${file} is not valid YAML${where}: ${message} (fix the syntax)`);
  }
  const floats = new Set<string>();
  collectFloats(doc.contents, [], floats);
  return { spec: doc.toJS({ maxAliasCount: 1000 }), floats, format: 'yaml' };
}

/** JSON.parse succeeds: a file with another extension that is JSON is read as JSON. */
function looksLikeJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** The paths of the YAML number scalars written as floats (`0.0`, `1e-3`), as floatLiteralPaths gives for JSON. */
function collectFloats(node: Node | null | undefined, at: (string | number)[], out: Set<string>): void {
  if (!node) return;
  if (isScalar(node)) {
    if (typeof node.value === 'number' && /[.eE]/.test(node.source ?? String(node.value))) out.add(JSON.stringify(at));
  } else if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      collectFloats(pair.value as Node | null, [...at, key], out);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => collectFloats(item as Node, [...at, i], out));
  }
}
