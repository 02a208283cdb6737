import { z } from 'zod';
import { closestName } from './closest_name.js';
import { UsageError, prefixed } from './errors.js';

/** How every component is named in a config: `{ "name": "mlp", "kwargs": { ... } }`. */
export interface ComponentSpec {
  name: string;
  kwargs?: Record<string, unknown>;
}

/** A spec whose kwargs have been checked against the component's schema and filled with defaults. */
export interface ResolvedSpec {
  name: string;
  kwargs: Record<string, unknown>;
}

/** One kwarg as `dlphys list` shows it. */
export interface KwargInfo {
  name: string;
  type: string;
  required: boolean;
  default?: unknown;
  description?: string;
}

/** Kwarg schemas that hold a file or folder path (see pathKwarg). */
const pathSchemas = z.registry<{ path: true }>();

/**
 * Marks a kwarg as a file or folder path. A relative one means "relative to the file the config
 * was written in": lib/config_paths makes it absolute when the config is loaded (by dlphys train,
 * or when a sweep is expanded), so a run reads the same files whatever its working directory.
 */
export function pathKwarg<S extends z.ZodType>(schema: S): S {
  pathSchemas.add(schema, { path: true });
  return schema;
}

/** Whether a kwarg schema, or the schema an optional/default wraps, was marked by pathKwarg. */
function isPathSchema(schema: z.ZodType | undefined): boolean {
  for (let s = schema; s; s = (s._zod.def as { innerType?: z.ZodType }).innerType) {
    if (pathSchemas.has(s)) return true;
  }
  return false;
}

/**
 * The metric keys a component logs and what each means (`q_l<k>` stands for q_l1, q_l2, ...):
 * what `dlphys list callback` prints, so a user reads what a column is without the source.
 */
export type MetricDocs = Readonly<Record<string, string>>;

interface Entry<T, C, X> {
  name: string;
  description: string;
  logs: MetricDocs | undefined;
  schema: z.ZodObject;
  build: (kwargs: never, ctx: C) => T;
  example: X | undefined;
}

/**
 * A named set of components of one kind (model, data, init, ...). Each component declares a
 * zod schema for its kwargs; `resolve` checks a spec against it before anything is built, so a
 * typo fails in milliseconds with a message that lists what exists, not after a model is built.
 */
export class Registry<T, C = void, X = never> {
  private readonly entries = new Map<string, Entry<T, C, X>>();

  constructor(readonly kind: string) {}

  register<S extends z.ZodObject>(
    name: string,
    component: { description: string; kwargs: S; build: (kwargs: z.output<S>, ctx: C) => T; example?: X; logs?: MetricDocs },
  ): void {
    if (this.entries.has(name)) throw new Error(`${this.kind} registry: "${name}" is registered twice`);
    // Strict: an unknown kwarg is a typo, never something to ignore silently.
    const schema = component.kwargs.strict();
    const build = component.build as Entry<T, C, X>['build'];
    this.entries.set(name, { name, description: component.description, logs: component.logs, schema, build, example: component.example });
  }

  /**
   * The small working example a component was registered with (for models: kwargs and an input
   * shape), which tests build and train for every registered name; undefined when it gave none.
   */
  example(name: string): X | undefined {
    return this.entries.get(name)?.example;
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  names(): string[] {
    return [...this.entries.keys()].sort();
  }

  /** The kwargs of component `name` that hold paths (marked with pathKwarg); none for an unknown name. */
  pathKwargs(name: string): string[] {
    const entry = this.entries.get(name);
    if (!entry) return [];
    return Object.entries(entry.schema.shape)
      .filter(([, schema]) => isPathSchema(schema as z.ZodType))
      .map(([key]) => key);
  }

  /** Checks a spec and fills in defaults; throws a UsageError naming the kind, the component and the fix. */
  resolve(spec: unknown): ResolvedSpec {
    if (typeof spec === 'string') spec = { name: spec };
    if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
      throw new UsageError(`${this.kind}: expected {"name": ..., "kwargs": {...}}, got ${JSON.stringify(spec)}`);
    }
    const { name, kwargs, ...rest } = spec as Record<string, unknown>;
    const extra = Object.keys(rest);
    if (extra.length) {
      throw new UsageError(`${this.kind}: unexpected key "${extra[0]}" beside name and kwargs (put component options under "kwargs")`);
    }
    if (typeof name !== 'string') throw new UsageError(`${this.kind}: "name" must be a string; registered: ${this.names().join(', ')}`);
    const entry = this.entries.get(name);
    if (!entry) {
      const hint = closestName(name, this.names());
      throw new UsageError(
        `${this.kind}: unknown name "${name}"${hint ? ` (did you mean "${hint}"?)` : ''}; registered: ${this.names().join(', ')}`,
      );
    }
    if (kwargs !== undefined && (kwargs === null || typeof kwargs !== 'object' || Array.isArray(kwargs))) {
      throw new UsageError(`${this.kind}:${name}: "kwargs" must be an object`);
    }
    const parsed = entry.schema.safeParse(kwargs ?? {}, { reportInput: true });
    if (!parsed.success) throw new UsageError(`${this.kind}:${name}: ${describeIssue(parsed.error.issues[0]!, entry.schema)}`);
    return { name, kwargs: parsed.data as Record<string, unknown> };
  }

  /** Resolves then builds; a builder's error comes back as `kind:name: message`. */
  build(spec: unknown, ctx: C): T {
    const { name, kwargs } = this.resolve(spec);
    const entry = this.entries.get(name)!;
    try {
      return entry.build(kwargs as never, ctx);
    } catch (err) {
      throw prefixed(`${this.kind}:${name}`, err);
    }
  }

  describe(name: string): { name: string; description: string; kwargs: KwargInfo[]; logs?: MetricDocs } {
    const entry = this.entries.get(name);
    if (!entry) throw new UsageError(`${this.kind}: unknown name "${name}"; registered: ${this.names().join(', ')}`);
    return { name, description: entry.description, kwargs: describeKwargs(entry.schema), ...(entry.logs ? { logs: entry.logs } : {}) };
  }
}

function describeKwargs(schema: z.ZodObject): KwargInfo[] {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const required = new Set(json.required ?? []);
  return Object.entries(json.properties ?? {}).map(([name, prop]) => ({
    name,
    type: typeName(prop),
    required: required.has(name) && prop.default === undefined,
    ...(prop.default !== undefined ? { default: prop.default } : {}),
    ...(prop.description ? { description: prop.description } : {}),
  }));
}

interface JsonSchema {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  default?: unknown;
  description?: string;
}

function typeName(s: JsonSchema): string {
  if (s.enum) return s.enum.map((v) => String(v)).join('|');
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.anyOf) return s.anyOf.map(typeName).join(' | ');
  if (s.type === 'array') return `${s.items ? typeName(s.items) : 'any'}[]`;
  if (Array.isArray(s.type)) return s.type.join(' | ');
  return s.type ?? 'any';
}

function describeIssue(issue: z.core.$ZodIssue, schema: z.ZodObject): string {
  const accepted = Object.keys(schema.shape).join(', ') || '(none)';
  if (issue.code === 'unrecognized_keys') {
    return `unknown kwarg "${issue.keys[0]}"; accepted kwargs: ${accepted}`;
  }
  const where = issue.path.length ? `kwarg "${issue.path.join('.')}"` : 'kwargs';
  if (issue.code === 'invalid_type' && issue.input === undefined && issue.path.length === 1) {
    return `missing required ${where}; accepted kwargs: ${accepted}`;
  }
  const got = issue.input === undefined ? '' : ` (got ${JSON.stringify(issue.input)})`;
  return `${where}: ${issue.message}${got}`;
}
