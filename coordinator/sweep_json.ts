/**
 * The structure of SubmitSweep's sweep_json (an ExpandedSweep, as `dlphys-coord sweep` sends it),
 * checked before anything reaches the store: a client that sends JSON of the wrong shape gets
 * INVALID_ARGUMENT naming the field, not INTERNAL from deep inside a transaction.
 */
import { z } from 'zod';
import { UsageError } from '../lib/errors.js';
import { MAX_RUNS, type ExpandedSweep } from '../lib/sweep/index.js';
import { MAX_NAME, isValidName, quote } from './bounds.js';

const name = z.string().refine(isValidName, {
  message: `not a valid name: use 1 to ${MAX_NAME} letters, digits and . _ = , + -, starting with a letter or digit`,
});
const object = z.record(z.string(), z.unknown());

const expandedSweep = z.object({
  name,
  // Absent from clients older than program sweeps: native.
  kind: z.enum(['native', 'program']).default('native'),
  method: z.enum(['grid', 'random', 'bayes']),
  metric: z.object({ name: z.string().min(1).max(MAX_NAME), goal: z.enum(['min', 'max']) }).nullable(),
  spec: object,
  specHash: z.string().regex(/^[0-9a-f]{1,128}$/, 'must be a hex digest'),
  runs: z
    .array(z.object({ index: z.int().min(0).max(MAX_RUNS), name, params: object, config: object }))
    .max(MAX_RUNS),
  warnings: z.array(z.string()).optional(),
  open: z.boolean().optional(),
  programTemplate: object.optional(),
  code: z
    .object({ hash: z.string().regex(/^[0-9a-f]{64}$/, 'must be a sha256 hex digest'), files: z.int().min(0), bytes: z.int().min(0) })
    .nullable()
    .optional(),
});

/** Parses and checks sweep_json; a UsageError names the first field that is wrong. */
export function parseSweepJson(json: string): ExpandedSweep {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new UsageError(`SubmitSweep: sweep_json is not valid JSON; got ${quote(json)}`);
  }
  const parsed = expandedSweep.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length ? issue.path.join('.') : '(the whole value)';
    throw new UsageError(`SubmitSweep: sweep_json.${where}: ${issue.message}`);
  }
  return parsed.data as ExpandedSweep;
}
