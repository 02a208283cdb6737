// The command line of a program run, built exactly as W&B's agent builds it
// (wandb/wandb_agent.py Agent._command_run; wandb/sdk/launch/sweeps/utils.py create_sweep_command
// and create_sweep_command_args), so a W&B sweep file's `command` means the same thing here.
// Values are rendered as Python renders them there: str(value) and json.dumps(value).

/** W&B's default command. */
export const DEFAULT_COMMAND: readonly string[] = Object.freeze(['${env}', '${interpreter}', '${program}', '${args}']);

/**
 * Every macro W&B's agent fills, by name (without ${}). `args_dict` is no documented macro, but the
 * agent's sweep_vars holds it (a dict), and `list += dict` appends the parameter names: kept for parity.
 */
export const COMMAND_MACROS: readonly string[] = Object.freeze([
  ...['env', 'interpreter', 'program', 'args', 'args_no_equals', 'args_no_hyphens', 'args_no_boolean_flags'],
  ...['args_json', 'args_json_file', 'args_dict', 'args_append_hydra', 'args_override_hydra'],
]);

/** What buildProgramCommand needs: the sweep's command and program, a run's parameters, the agent's interpreter and environment. */
export interface ProgramCommandInput {
  /** The sweep's `command` as written (strings, numbers, booleans...), or undefined for the default. */
  command: readonly unknown[] | undefined;
  /** The sweep's `program` (path as the command shows it), or undefined when the sweep has none. */
  program: string | undefined;
  /** The run's parameters as W&B's run config: top-level names in the sweep file's order, nested `parameters` blocks as nested objects. */
  params: Record<string, unknown>;
  interpreter: string;
  /** Where ${args_json_file} points (the caller writes argsJson there). */
  argsJsonFile: string;
  /** For ${envvar:NAME}. */
  env: Record<string, string | undefined>;
}

// W&B's SWEEP_COMMAND_ENV_VAR_REGEX.
const ENVVAR = /\$\{envvar:([A-Z0-9_]*)\}/g;

/**
 * The argv (argv[0] is the executable) W&B's agent would run for these inputs: `${envvar:NAME}`
 * substituted in every chunk first, then each chunk that is `${macro}` as a whole replaced by the
 * macro's items (an unknown macro by nothing), any other chunk kept as Python's str(chunk).
 * `${env}` is /usr/bin/env, or nothing on Windows as in W&B. Throws Error when a macro needs
 * `program` and there is none, or a value is not JSON-like (see pythonStr).
 */
export function buildProgramCommand(input: ProgramCommandInput): string[] {
  const vars = macroValues(input);
  const out: string[] = [];
  for (const chunk of commandOrDefault(input.command)) {
    const c = substituteEnvvars(pythonStr(chunk), input.env);
    if (!isMacroShaped(c)) {
      out.push(c);
      continue;
    }
    const name = c.slice(2, -1);
    if (name === 'program' && input.program === undefined) {
      throw new Error('the command uses ${program} but the sweep has no "program"');
    }
    out.push(...(vars.get(name) ?? []));
  }
  return out;
}

/** The JSON ${args_json} holds (Python json.dumps of params). */
export function argsJson(params: Record<string, unknown>): string {
  return pythonJsonDumps(params);
}

/**
 * Python's str(value) for a JSON-like value: null -> None, booleans True/False, strings as they
 * are, numbers as they reach W&B's agent (see formatNumber), arrays and plain objects as Python's
 * repr of a list or dict. Throws Error for anything else (undefined, functions, non-finite numbers).
 */
export function pythonStr(value: unknown): string {
  return typeof value === 'string' ? value : pythonRepr(value);
}

/**
 * Python's json.dumps(value) with its defaults: separators ", " and ": ", ensure_ascii (every
 * character outside space..~ escaped, \uXXXX in lowercase hex), keys in the order given.
 * Throws Error for what is not JSON-like.
 */
export function pythonJsonDumps(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return formatNumber(value);
  if (typeof value === 'string') return jsonString(value);
  if (Array.isArray(value)) return `[${value.map(pythonJsonDumps).join(', ')}]`;
  return `{${entries(value).map(([k, v]) => `${jsonString(k)}: ${pythonJsonDumps(v)}`).join(', ')}}`;
}

/**
 * Chunks of a `command` that look like macros (`${...}`, whole chunk) but are not ones W&B fills
 * (they are dropped, as W&B drops them): for a warning at submission. A chunk holding
 * `${envvar:...}` is not judged, since what it becomes depends on the agent's environment.
 */
export function unknownMacros(command: readonly unknown[]): string[] {
  return commandOrDefault(command)
    .map((chunk) => pythonStr(chunk))
    .filter((c) => isMacroShaped(c) && !hasEnvvar(c) && !COMMAND_MACROS.includes(c.slice(2, -1)));
}

/** Whether the command (or the default) uses ${program}: a sweep without `program` must not. */
export function usesProgram(command: readonly unknown[] | undefined): boolean {
  return commandOrDefault(command).some((chunk) => pythonStr(chunk) === '${program}');
}

// W&B takes `command or DEFAULT_SWEEP_COMMAND`: an empty list is the default too.
function commandOrDefault(command: readonly unknown[] | undefined): readonly unknown[] {
  return command === undefined || command.length === 0 ? DEFAULT_COMMAND : command;
}

function isMacroShaped(c: string): boolean {
  return c.startsWith('${') && c.endsWith('}');
}

function hasEnvvar(c: string): boolean {
  return new RegExp(ENVVAR.source).test(c);
}

// One pass over the original chunk, as W&B's (it replaces matches back to front by position), so a
// variable's value is never itself searched for ${envvar:...}; an unset variable leaves its name.
function substituteEnvvars(chunk: string, env: Record<string, string | undefined>): string {
  return chunk.replace(ENVVAR, (_m, name: string) => env[name] ?? name);
}

function macroValues(input: ProgramCommandInput): Map<string, string[]> {
  const args: string[] = [];
  const noEquals: string[] = [];
  const noHyphens: string[] = [];
  const noBooleanFlags: string[] = [];
  const appendHydra: string[] = [];
  const overrideHydra: string[] = [];
  for (const [name, value] of Object.entries(input.params)) {
    const flag = `${name}=${pythonStr(value)}`;
    args.push(`--${flag}`);
    noHyphens.push(flag);
    noEquals.push(`--${name}`, pythonStr(value));
    appendHydra.push(`+${flag}`);
    overrideHydra.push(`++${flag}`);
    if (typeof value !== 'boolean') noBooleanFlags.push(`--${flag}`);
    else if (value) noBooleanFlags.push(`--${name}`);
  }
  const vars = new Map<string, string[]>([
    ['interpreter', [input.interpreter]],
    ['args', args],
    ['args_no_equals', noEquals],
    ['args_no_hyphens', noHyphens],
    ['args_no_boolean_flags', noBooleanFlags],
    ['args_json', [argsJson(input.params)]],
    ['args_json_file', [input.argsJsonFile]],
    ['args_dict', Object.keys(input.params)],
    ['args_append_hydra', appendHydra],
    ['args_override_hydra', overrideHydra],
  ]);
  if (input.program !== undefined) vars.set('program', [input.program]);
  if (process.platform !== 'win32') vars.set('env', ['/usr/bin/env']);
  return vars;
}

function pythonRepr(value: unknown): string {
  if (value === null) return 'None';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'number') return formatNumber(value);
  if (typeof value === 'string') return reprString(value);
  if (Array.isArray(value)) return `[${value.map(pythonRepr).join(', ')}]`;
  return `{${entries(value).map(([k, v]) => `${reprString(k)}: ${pythonRepr(v)}`).join(', ')}}`;
}

function entries(value: unknown): [string, unknown][] {
  const proto = typeof value === 'object' && value !== null ? Object.getPrototypeOf(value) : undefined;
  if (proto !== Object.prototype && proto !== null) {
    throw new Error(`not a JSON-like value: ${String(value)} (${typeof value})`);
  }
  return Object.entries(value as Record<string, unknown>);
}

/**
 * A number as W&B's agent sees it. The W&B server re-encodes the run config in Go, which writes an
 * integer-valued float below 1e21 as an integer (see wandb/sweeps grid_search.py yaml_hash), so
 * those print as Python ints; every other number is a Python float and prints as repr(float).
 */
function formatNumber(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`not a finite number: ${x}`);
  if (Number.isInteger(x) && Math.abs(x) < 1e21) return String(x); // String(-0) is '0', as Go's -0 reaches Python as int 0
  return reprFloat(x);
}

// repr(float): the shortest round-trip digits (the ones String gives), in exponent form when the
// decimal exponent is < -4 or >= 16 (Python's float_repr 'r' mode), else decimal with at least
// one digit after the point.
function reprFloat(x: number): string {
  const sign = x < 0 ? '-' : '';
  const s = String(Math.abs(x));
  let digits: string;
  let exp: number; // decimal exponent of the first digit
  const e = s.indexOf('e');
  if (e >= 0) {
    [digits, exp] = [s.slice(0, e).replace('.', ''), Number(s.slice(e + 1))];
  } else {
    const [int = '', frac = ''] = s.split('.');
    const zeros = int === '0' ? frac.length - frac.replace(/^0+/, '').length : 0;
    [digits, exp] = int === '0' ? [frac.slice(zeros), -zeros - 1] : [int + frac, int.length - 1];
  }
  digits = digits.replace(/0+$/, '') || '0';
  if (exp < -4 || exp >= 16) {
    const mantissa = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${sign}${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  const int = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
  return `${sign}${int}.${digits.slice(exp + 1) || '0'}`;
}

// Python's unicode_repr keeps a character when printable: not in Cc, Cf, Cs, Co, Cn, Zl, Zp, Zs
// (ASCII is settled before this is asked, so the space needs no exception).
const NON_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

function reprString(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (ch === quote || ch === '\\') out += `\\${ch}`;
    else if (ch === '\t') out += '\\t';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (code < 0x20 || code === 0x7f) out += `\\x${hex(code, 2)}`;
    else if (code < 0x7f || !NON_PRINTABLE.test(ch)) out += ch;
    else if (code <= 0xff) out += `\\x${hex(code, 2)}`;
    else if (code <= 0xffff) out += `\\u${hex(code, 4)}`;
    else out += `\\U${hex(code, 8)}`;
  }
  return out + quote;
}

const JSON_ESCAPES: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f' };

// Code unit by code unit, so astral characters come out as surrogate pairs, as Python's does.
function jsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    const code = s.charCodeAt(i);
    out += JSON_ESCAPES[ch] ?? (code >= 0x20 && code <= 0x7e ? ch : `\\u${hex(code, 4)}`);
  }
  return out + '"';
}

function hex(code: number, width: number): string {
  return code.toString(16).padStart(width, '0');
}

/** An argument as a POSIX shell needs it quoted, for showing a command line (logs, --dry-run); `<`/`>` are kept bare for placeholders such as `<run>`. */
export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./<>-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
