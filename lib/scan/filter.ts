import { UsageError } from '../errors.js';
import type { Cell, Row } from './scan.js';

export const WHERE_OPERATORS = ['=', '!=', '<', '>', '<=', '>='] as const;
export type WhereOperator = (typeof WHERE_OPERATORS)[number];

/** One `--where` condition: `key op value`. */
export interface Where {
  readonly key: string;
  readonly op: WhereOperator;
  readonly value: Cell;
  /** As typed, for messages. */
  readonly text: string;
}

const USAGE = 'use KEY=VALUE, KEY!=VALUE, KEY<VALUE, KEY>VALUE, KEY<=VALUE or KEY>=VALUE';

/**
 * Parses `optimizer.kwargs.lr<=0.1`, `status=completed`, `model.kwargs.bias=true`. The operator
 * is the first `=`, `!=`, `<`, `>`, `<=` or `>=` (keys never hold those characters, values may:
 * `name=a=b` compares name with "a=b"); `==` is read as `=`, since a shell user's habit would
 * otherwise compare with the string "=x" and silently match nothing. Spaces around key and value
 * are dropped. The value is read as JSON when it parses (`0.1`, `1e-3`, `true`, `null`; an array
 * or object as scan shows it, compact JSON), else taken as the string typed.
 */
export function parseWhere(text: string): Where {
  const at = text.search(/[=!<>]/);
  if (at < 0) throw new UsageError(`--where "${text}" has no operator; ${USAGE}`);
  const two = text.slice(at, at + 2);
  let op: WhereOperator;
  let rest: string;
  if (two === '!=' || two === '<=' || two === '>=') (op = two), (rest = text.slice(at + 2));
  else if (two === '==') (op = '='), (rest = text.slice(at + 2));
  else if (text[at] === '!') throw new UsageError(`--where "${text}": "!" must be followed by "="; ${USAGE}`);
  else (op = text[at] as WhereOperator), (rest = text.slice(at + 1));
  const key = text.slice(0, at).trim();
  if (key === '') throw new UsageError(`--where "${text}" has no key before "${op}"; ${USAGE}`);
  return { key, op, value: parseValue(rest.trim()), text };
}

function parseValue(text: string): Cell {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return text;
  }
  if (parsed === null || typeof parsed === 'string' || typeof parsed === 'number' || typeof parsed === 'boolean') return parsed;
  // Config arrays and objects are cells of compact JSON (flattenConfig); compare like with like.
  return JSON.stringify(parsed);
}

/**
 * Refuses a condition whose key is in no run (almost always a typo: it would silently drop every
 * row), listing the keys there are.
 */
export function checkWhereKeys(conditions: readonly Where[], known: ReadonlySet<string>): void {
  for (const c of conditions) {
    if (!known.has(c.key)) throw new UsageError(`unknown --where key "${c.key}"; known keys: ${[...known].join(', ')}`);
  }
}

/** Whether `row` meets every condition. */
export function matchesAll(row: Row, conditions: readonly Where[]): boolean {
  return conditions.every((c) => matches(row, c));
}

const natural = new Intl.Collator('en', { numeric: true });

/**
 * Whether `row` meets `condition`. A row without the key fails every operator except `!=`, which
 * it passes (it does not have that value). Both sides compare as numbers when both are numbers or
 * strings that parse as one ("0.1", "1e-3", "Infinity"; NaN equals only NaN and is neither
 * smaller nor larger than anything); otherwise as strings (booleans as "true" and "false"),
 * `<` and `>` in natural order ("lr9" < "lr10"). null (`=null`) equals only null and has no order.
 */
export function matches(row: Row, condition: Where): boolean {
  const { key, op, value } = condition;
  if (!(key in row) || row[key] === undefined) return op === '!=';
  const cell = row[key]!;
  const order = compare(cell, value);
  switch (op) {
    case '=':
      return order === 0;
    case '!=':
      return order !== 0;
    case '<':
      return order !== undefined && order < 0;
    case '>':
      return order !== undefined && order > 0;
    case '<=':
      return order !== undefined && order <= 0;
    case '>=':
      return order !== undefined && order >= 0;
  }
}

/** Negative, zero or positive as a < b, a = b, a > b; undefined when they have no order (NaN, null). */
function compare(a: Cell, b: Cell): number | undefined {
  if (a === null || b === null) return a === b ? 0 : undefined;
  const x = asNumber(a);
  const y = asNumber(b);
  if (x !== undefined && y !== undefined) {
    if (Number.isNaN(x) || Number.isNaN(y)) return Number.isNaN(x) && Number.isNaN(y) ? 0 : undefined;
    return x === y ? 0 : x < y ? -1 : 1;
  }
  const s = String(a);
  const t = String(b);
  return s === t ? 0 : natural.compare(s, t) || (s < t ? -1 : 1);
}

function asNumber(value: Cell): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  if (value.trim() === 'NaN') return NaN;
  const n = Number(value);
  return Number.isNaN(n) ? undefined : n;
}
