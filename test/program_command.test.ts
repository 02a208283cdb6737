/**
 * The command line of a program run (lib/sweep/program_command.ts), against the shapes W&B's agent
 * produces: wandb's tests/system_tests/test_sweep/test_wandb_agent.py where it has a case, and
 * python3 itself for str() and json.dumps() when it is installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  COMMAND_MACROS,
  DEFAULT_COMMAND,
  argsJson,
  buildProgramCommand,
  pythonJsonDumps,
  pythonStr,
  unknownMacros,
  usesProgram,
  type ProgramCommandInput,
} from '../lib/sweep/program_command.js';

function build(over: Partial<ProgramCommandInput>): string[] {
  return buildProgramCommand({
    command: undefined,
    program: 'train.py',
    params: {},
    interpreter: 'python',
    argsJsonFile: 'wandb/sweep-s1/config-r1.json',
    env: {},
    ...over,
  });
}

// test_agent_create_command_args: a True, b False, c 1, d None.
const WANDB_PARAMS = { a: true, b: false, c: 1, d: null };
const macro = (name: string) => build({ command: [`\${${name}}`], params: WANDB_PARAMS });

test('every args macro gives the shapes of W&B test_agent_create_command_args', () => {
  assert.deepEqual(macro('args'), ['--a=True', '--b=False', '--c=1', '--d=None']);
  assert.deepEqual(macro('args_no_hyphens'), ['a=True', 'b=False', 'c=1', 'd=None']);
  assert.deepEqual(macro('args_no_boolean_flags'), ['--a', '--c=1', '--d=None']);
  assert.deepEqual(macro('args_json'), ['{"a": true, "b": false, "c": 1, "d": null}']);
  assert.deepEqual(macro('args_append_hydra'), ['+a=True', '+b=False', '+c=1', '+d=None']);
  assert.deepEqual(macro('args_override_hydra'), ['++a=True', '++b=False', '++c=1', '++d=None']);
  assert.deepEqual(macro('args_no_equals'), ['--a', 'True', '--b', 'False', '--c', '1', '--d', 'None']);
  assert.equal(argsJson(WANDB_PARAMS), '{"a": true, "b": false, "c": 1, "d": null}');
});

test('${args_dict} appends the parameter names, as list += dict does in W&B', () => {
  assert.deepEqual(macro('args_dict'), ['a', 'b', 'c', 'd']);
});

test('the default command is env, interpreter, program, args', () => {
  assert.deepEqual(DEFAULT_COMMAND, ['${env}', '${interpreter}', '${program}', '${args}']);
  const expected = ['/usr/bin/env', 'python3', 'train.py', '--lr=0.01', '--depth=4'];
  const params = { lr: 0.01, depth: 4 };
  assert.deepEqual(build({ interpreter: 'python3', params }), expected);
  // W&B takes `command or DEFAULT_SWEEP_COMMAND`, so an empty command is the default too.
  assert.deepEqual(build({ command: [], interpreter: 'python3', params }), expected);
});

test('${envvar:NAME} is the variable, or NAME when unset (W&B test_agent_create_sweep_command)', () => {
  const env = { FOO_DIR: 'foo_dir', FOO_DIR_TWO: 'foo_dir_two', FOO_VAR: 'foo_var' };
  const command = [
    '${env}',
    '${interpreter}',
    '--output_dir',
    'fake/path/${envvar:FOO_DIR}/${envvar:FOO_DIR}/${envvar:FOO_DIR_TWO}',
    '--foovar',
    '${envvar:FOO_VAR}',
  ];
  assert.deepEqual(build({ command, env }), [
    '/usr/bin/env',
    'python',
    '--output_dir',
    'fake/path/foo_dir/foo_dir/foo_dir_two',
    '--foovar',
    'foo_var',
  ]);
  assert.deepEqual(build({ command: ['--data=${envvar:DATA_ROOT}/mnist', '${envvar:UNSET}'], env }), [
    '--data=DATA_ROOT/mnist',
    'UNSET',
  ]);
  // An empty value is a value; substitution runs once, so values are not searched again; and a
  // chunk that becomes a macro is expanded (or dropped) as one, since W&B substitutes first.
  const tricky = { E: '', V: '${envvar:E}', A: '${args}' };
  assert.deepEqual(build({ command: ['x${envvar:E}y', 'v=${envvar:V}', '${envvar:A}'], env: tricky, params: { a: 1 } }), [
    'xy',
    'v=${envvar:E}',
    '--a=1',
  ]);
});

test('literal arguments stay in place, numbers and booleans as Python str() gives them', () => {
  const command = ['${env}', '${interpreter}', '${program}', '--steps', 50, true, 0.5, null, '${args_no_boolean_flags}'];
  assert.deepEqual(build({ command, params: { fast: true, slow: false, lr: 0.001 } }), [
    '/usr/bin/env',
    'python',
    'train.py',
    '--steps',
    '50',
    'True',
    '0.5',
    'None',
    '--fast',
    '--lr=0.001',
  ]);
});

test('nested parameters and lists print as Python repr of a dict or list', () => {
  const params = { optimizer: { lr: 0.001, nadam: { beta: 0.9 } }, widths: [64, 128], mix: [1, 'a', true, null, 1e-5] };
  assert.deepEqual(build({ command: ['${args}'], params }), [
    "--optimizer={'lr': 0.001, 'nadam': {'beta': 0.9}}",
    '--widths=[64, 128]',
    "--mix=[1, 'a', True, None, 1e-05]",
  ]);
  assert.equal(
    argsJson(params),
    '{"optimizer": {"lr": 0.001, "nadam": {"beta": 0.9}}, "widths": [64, 128], "mix": [1, "a", true, null, 1e-05]}',
  );
  assert.equal(pythonStr([]), '[]');
  assert.equal(pythonStr({}), '{}');
});

test('strings inside repr follow Python quoting and escapes', () => {
  assert.equal(pythonStr('plain top-level \'string\' "kept"\n'), 'plain top-level \'string\' "kept"\n');
  assert.equal(pythonStr(["it's"]), `["it's"]`);
  assert.equal(pythonStr(['say "hi"']), `['say "hi"']`);
  assert.equal(pythonStr([`both ' and "`]), `['both \\' and "']`);
  assert.equal(pythonStr(['a\\b\n\r\t\x00\x7f']), "['a\\\\b\\n\\r\\t\\x00\\x7f']");
  assert.equal(pythonStr(['héllo 日本 😀']), "['héllo 日本 😀']");
  assert.equal(pythonStr(['\u00a0\u200b\u2028\ud800']), "['\\xa0\\u200b\\u2028\\ud800']");
});

test('numbers print as Python int or repr(float) after the W&B server re-encodes them', () => {
  const table: [number, string][] = [
    [0.1, '0.1'],
    [1e-5, '1e-05'],
    [1.5e-7, '1.5e-07'],
    [0.0001, '0.0001'],
    [123.25, '123.25'],
    [1e16, '10000000000000000'],
    [1e21, '1e+21'],
    [1.5e300, '1.5e+300'],
    [-2.5e-6, '-2.5e-06'],
    [3.0, '3'],
    [3000000, '3000000'],
    [-0, '0'],
    [1234567.125, '1234567.125'],
    // Past 2**53 every float is an integer; Go writes its shortest digits padded with zeros, as String does.
    [1.2345678901234567e17, '123456789012345660'],
  ];
  for (const [x, s] of table) {
    assert.equal(pythonStr(x), s, `str(${x})`);
    assert.equal(pythonJsonDumps(x), s, `json.dumps(${x})`);
  }
  assert.throws(() => pythonStr(Infinity), /not a finite number/);
  assert.throws(() => pythonJsonDumps([NaN]), /not a finite number/);
  assert.throws(() => pythonStr(undefined), /not a JSON-like value/);
});

test('json.dumps escapes non-ASCII as \\uXXXX, astral characters as surrogate pairs', () => {
  assert.equal(
    pythonJsonDumps({ name: 'café 😀', q: 'a"b\\c\n\t\x01\x7f', nested: [{ x: [] }, {}] }),
    '{"name": "caf\\u00e9 \\ud83d\\ude00", "q": "a\\"b\\\\c\\n\\t\\u0001\\u007f", "nested": [{"x": []}, {}]}',
  );
  assert.equal(pythonJsonDumps({ 'k\u00e9': 1 }), '{"k\\u00e9": 1}');
});

test('an unknown macro is dropped and reported; ${envvar:...} chunks are not judged', () => {
  const command = ['${interpreter}', '${program}', '${argz}', '${}', '${envvar:X}', 'x${oops}', '${args}'];
  assert.deepEqual(build({ command, params: { a: 1 } }), ['python', 'train.py', 'X', 'x${oops}', '--a=1']);
  assert.deepEqual(unknownMacros(command), ['${argz}', '${}']);
  assert.deepEqual(unknownMacros(COMMAND_MACROS.map((m) => `\${${m}}`)), []);
  assert.deepEqual(unknownMacros([]), []);
});

test('${args_json_file} gives the path the caller writes args_json to', () => {
  assert.deepEqual(build({ command: ['${program}', '${args_json_file}'], argsJsonFile: '/tmp/r1/args.json' }), [
    'train.py',
    '/tmp/r1/args.json',
  ]);
});

test('${program} without a program throws; usesProgram tells beforehand', () => {
  assert.throws(
    () => build({ program: undefined }),
    (e: unknown) => e instanceof Error && e.message === 'the command uses ${program} but the sweep has no "program"',
  );
  assert.deepEqual(build({ program: undefined, command: ['bash', 'run.sh', '${args}'], params: { a: 1 } }), [
    'bash',
    'run.sh',
    '--a=1',
  ]);
  assert.equal(usesProgram(undefined), true);
  assert.equal(usesProgram([]), true);
  assert.equal(usesProgram(['bash', 'run.sh', '${args}']), false);
  assert.equal(usesProgram(['${interpreter}', '${program}']), true);
});

// Python itself, given the values as the W&B server hands them over: integer-valued floats below
// 1e21 become ints (Go's JSON writes them without a point).
const PYTHON = `
import json, sys
def server(v):
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e21: return int(v)
    if isinstance(v, list): return [server(x) for x in v]
    if isinstance(v, dict): return {k: server(x) for k, x in v.items()}
    return v
vals = [server(v) for v in json.load(sys.stdin)]
json.dump([[str(v), json.dumps(v)] for v in vals], sys.stdout)
`;

const python3 = spawnSync('python3', ['--version']).status === 0;

test('pythonStr and pythonJsonDumps agree with python3', { skip: python3 ? false : 'python3 is not installed' }, () => {
  const values: unknown[] = [
    true, false, null, 0, -0, 7, -42, 3.0, 1e16, 9007199254740993, 1e20, 1e21, 1e22, 0.1, 0.5, 1 / 3, -2.5e-6,
    1e-5, 1.5e-7, 0.0001, 0.00012, 123.25, 1e15 + 0.5, 1.2345678901234567e17, 5e-324, 1.7976931348623157e308,
    'plain', "it's", 'say "hi"', `both ' and "`, 'tab\tnl\ncr\r\\', '\x00\x1f\x7f\x80\x9f\xa0\xad',
    'héllo 日本 😀', '\u200b\u2028\u2029\u3000\ufeff\ue000', 'Ā\u0378', 'lone \ud800',
    [1, 'a', true, null, 1e-5, [], {}], { lr: 0.001, nadam: { beta: 0.9 }, name: "o'k", w: [64, 2.5] },
  ];
  const run = spawnSync('python3', ['-c', PYTHON], { input: JSON.stringify(values), encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const expected = JSON.parse(run.stdout) as [string, string][];
  values.forEach((v, i) => {
    assert.equal(pythonStr(v), expected[i]![0], `str(${JSON.stringify(v)})`);
    assert.equal(pythonJsonDumps(v), expected[i]![1], `json.dumps(${JSON.stringify(v)})`);
  });
});
