import { parseArgs } from 'node:util';
import { UsageError } from '../errors.js';

/**
 * The value parsers of every command's flags (dlphys, dlphys-coord, dlphys-agent, the benches),
 * so that a flag of a kind is checked, and refused, the same way wherever it appears. Each takes
 * the flag's name and returns a commander argument parser; a bad value is a UsageError that names
 * the flag and quotes what was given.
 */

type Parser<T> = (value: string) => T;

/** A number `accepts` takes, else a usage error saying it must be `what`. */
function numberFlag(flag: string, what: string, accepts: (n: number) => boolean): Parser<number> {
  return (value) => {
    const n = Number(value);
    if (!accepts(n)) throw new UsageError(`${flag} must be ${what} (got "${value}")`);
    return n;
  };
}

/** A whole number greater than zero: counts (--slots, --max-attempts) and milliseconds. */
export function positiveInt(flag: string): Parser<number> {
  return numberFlag(flag, 'a positive integer', (n) => Number.isInteger(n) && n > 0);
}

/** A whole number >= 0: steps, where 0 is the start. */
export function nonNegativeInt(flag: string): Parser<number> {
  return numberFlag(flag, 'a whole number >= 0', (n) => Number.isInteger(n) && n >= 0);
}

/** A finite number greater than zero: sizes and timeouts where zero would mean nothing works. */
export function positiveNumber(flag: string): Parser<number> {
  return numberFlag(flag, 'a positive number', (n) => Number.isFinite(n) && n > 0);
}

/** A finite number no smaller than `min`. */
export function atLeast(flag: string, min: number): Parser<number> {
  return numberFlag(flag, `a number >= ${min}`, (n) => Number.isFinite(n) && n >= min);
}

/** A finite number >= 0: intervals and timeouts where 0 means "never". */
export function nonNegative(flag: string): Parser<number> {
  return atLeast(flag, 0);
}

/**
 * A whole number from `min` to `max` (no upper bound when `max` is Infinity): thread counts and
 * ports. Its message reads "..., got X" rather than "(got X)": scripts and tests match the
 * --threads and DLPHYS_THREADS wording as it has always been.
 */
export function wholeNumber(flag: string, min: number, max = Infinity): Parser<number> {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new UsageError(`${flag} must be a whole number from ${min}${max === Infinity ? ' up' : ` to ${max}`}, got "${value}"`);
    }
    return n;
  };
}

/** A TCP port to listen on; 0 asks the system for any free one. */
export const portNumber: Parser<number> = wholeNumber('--port', 0, 65535);

/** One of `choices`, as typed. */
export function oneOf<T extends string>(flag: string, choices: readonly T[]): Parser<T> {
  return (value) => {
    if (!(choices as readonly string[]).includes(value)) throw new UsageError(`${flag} must be one of ${choices.join(', ')} (got "${value}")`);
    return value as T;
  };
}

/** A sweep file's words (W&B's minimize / maximize) or scan's (min / max), as scan's short form. */
export function goalFlag(flag: string): Parser<'min' | 'max'> {
  const words = oneOf(flag, ['min', 'max', 'minimize', 'maximize'] as const);
  return (value) => (words(value) === 'max' || value === 'maximize' ? 'max' : 'min');
}

/** commander's collector for a repeatable option (`--set a=1 --set b=2`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** The items of a comma-separated value (`--gpu 0,1`, `--backends wasm,cpu`), trimmed; empty items are kept for the caller to refuse. */
export function commaList(value: string): string[] {
  return value.split(',').map((item) => item.trim());
}

/**
 * The options of a script without commander (the benches: `--runs 64 --slots 8`), read by node's
 * parseArgs: `numbers` names each numeric option with its default, each a number >= 0 when given;
 * `texts` names the options taken as they are, absent unless given. An unknown option is refused.
 */
export function scriptArgs<N extends string, T extends string = never>(
  numbers: Readonly<Record<N, number>>,
  texts: readonly T[] = [],
  argv: readonly string[] = process.argv.slice(2),
): Record<N, number> & Partial<Record<T, string>> {
  const names = [...Object.keys(numbers), ...texts];
  const { values } = parseArgs({ args: [...argv], options: Object.fromEntries(names.map((name) => [name, { type: 'string' as const }])) });
  const out: Record<string, number | string> = {};
  for (const [name, fallback] of Object.entries<number>(numbers)) {
    const given = values[name];
    out[name] = typeof given === 'string' ? nonNegative(`--${name}`)(given) : fallback;
  }
  for (const name of texts) {
    const given = values[name];
    if (typeof given === 'string') out[name] = given;
  }
  return out as Record<N, number> & Partial<Record<T, string>>;
}
