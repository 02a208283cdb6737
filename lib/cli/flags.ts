import { UsageError } from '../errors.js';

/**
 * The value parsers of every command's flags (dlphys, dlphys-coord, dlphys-agent, the benches),
 * so that a flag of a kind is checked, and refused, the same way wherever it appears. Each takes
 * the flag's name and returns a commander argument parser; a bad value is a UsageError that names
 * the flag and quotes what was given.
 */

type Parser<T> = (value: string) => T;

/** A whole number greater than zero: counts (--slots, --max-attempts) and milliseconds. */
export function positiveInt(flag: string): Parser<number> {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag} must be a positive integer (got "${value}")`);
    return n;
  };
}

/** A finite number greater than zero: sizes and timeouts where zero would mean nothing works. */
export function positiveNumber(flag: string): Parser<number> {
  return (value) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} must be a positive number (got "${value}")`);
    return n;
  };
}

/** A finite number no smaller than `min`. */
export function atLeast(flag: string, min: number): Parser<number> {
  return (value) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min) throw new UsageError(`${flag} must be a number >= ${min} (got "${value}")`);
    return n;
  };
}

/** A finite number >= 0: intervals and timeouts where 0 means "never". */
export function nonNegative(flag: string): Parser<number> {
  return atLeast(flag, 0);
}

/** A whole number from `min` to `max` (no upper bound when `max` is Infinity). */
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

/** commander's collector for a repeatable option (`--set a=1 --set b=2`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** The items of a comma-separated value (`--gpu 0,1`, `--backends wasm,cpu`), trimmed; empty items are kept for the caller to refuse. */
export function commaList(value: string): string[] {
  return value.split(',').map((item) => item.trim());
}
