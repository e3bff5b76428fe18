import { z } from 'zod';
import { parseDuration } from '../util/duration.js';
import { parseSize } from '../util/size.js';
import { endpointError, parseRemoteLocation } from './cacheConfig.js';
import { parseQueueUrl } from './queueConfig.js';

/*
 * The shape of pipeline.yaml, as zod schemas: what each key may hold, with the kinds a registry knows
 * (merge formats, rule sets, document and context kinds). What needs the whole file (which runner a phase
 * names, which phase it reads) or a kind's own rules (a runner's keys and `options:`) is checked after, on
 * the parsed value (runnerConfig.ts, phaseConfig.ts).
 */

/**
 * What the schema needs of the registry (registry.ts): the names of its kinds. Named here, not imported,
 * so that the registry's runner kinds may read raw runners (RawRunner) without an import cycle.
 */
export interface SchemaKinds {
  readonly signature: string;
  mergeRefs(): string[];
  ruleSetRefs(): string[];
  listCategories(): string[];
  documentNames(): string[];
  contextNames(): string[];
  runnerKindRefs(): string[];
}

const durationSchema = z
  .union([z.string(), z.number()])
  .refine((v) => parseDuration(v) !== null, { message: 'expected a duration such as 90s, 5m, 1h or 500ms' });
const sizeSchema = z
  .union([z.string(), z.number()])
  .refine((v) => parseSize(v) !== null, { message: 'expected a size such as 20MB, 500kB, 1MiB or a number of bytes' });
const commandSchema = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)], {
  error: 'expected a command: a list of arguments ([node, agent.js]) or a shell string',
});
const pathList = z.array(z.string().min(1));

/**
 * One of these names (none registered: no string is). A string first: a value of another type is the wrong
 * form of a union (a command list, an object), not a misspelt name (diagnostics.ts, unwrapUnion).
 */
function oneOf(names: string[], error: string): z.ZodType<string> {
  const name = names.length ? z.enum(names as [string, ...string[]], { error }) : z.never({ error });
  return z.string({ error }).pipe(name);
}

/**
 * One schema for every runner kind (so unknown keys get a did-you-mean); which kind it is, which keys a
 * kind takes and needs, and a registered kind's `options:`, are checked after (runnerConfig.ts).
 */
const limitsSchema = z.strictObject({
  concurrency: z.number().int().min(1).optional(),
  requests_per_minute: z.number().positive().optional(),
  tokens_per_minute: z.number().positive().optional(),
});
const modelKeys = {
  model: z.string().min(1).optional(),
  max_tokens: z.number().int().min(1).optional(),
  temperature: z.number().min(0).max(2).optional(),
};
const runnerSchema = (kinds: string[], documentKind: z.ZodType<string>) => z.strictObject({
  // Any name: an unknown one is refused with a did-you-mean among the registered kinds (runnerConfig.ts).
  kind: z.string({ error: `expected a runner kind: ${kinds.join(', ')}` }).min(1, { error: `expected a runner kind: ${kinds.join(', ')}` }).describe(`how the agent runs (default command): ${kinds.join(', ')}`).optional(),
  command: commandSchema.describe('the agent: argv without a shell ([node, agent.js]) or a string run by /bin/sh').optional(),
  preset: z.enum(['claude-code'], { error: 'expected a preset: claude-code' }).optional(),
  args: z.array(z.string()).optional(),
  cwd: z.enum(['pipeline', 'run']).optional(),
  /** preset: claude-code: let Claude Code read CLAUDE.md files (off by default); the pipeline's CLAUDE.md is then keyed. */
  claude_md: z.boolean().optional(),
  recording: z.string().min(1).optional(),
  as: documentKind.optional(),
  ...modelKeys,
  api_key_env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'the NAME of an environment variable (never the key itself)' }).optional(),
  base_url: z.url().optional(),
  mode: z.enum(['messages', 'batch']).optional(),
  /** How a runner holds the model to the phase's schema; which values a kind takes is its own (builtinRunners.ts). */
  structured: z.enum(['strict', 'loose', 'format', 'tool', 'off'], { error: 'expected strict, loose or off (openai runners), format, tool or off (anthropic runners), tool or off (preset: claude-code)' }).optional(),
  poll_interval: durationSchema.optional(),
  max_retries: z.number().int().min(0).max(20).optional(),
  limits: limitsSchema.optional(),
  timeout: durationSchema.describe('per attempt (default 30m): ms, s, m, h').optional(),
  env: z.record(z.string(), z.string()).describe("extra environment (not for secrets: keys come from cf's environment)").optional(),
  deps: pathList.describe('files the agent reads: part of every key using this runner').optional(),
  /** A registered kind's own settings, as its kind reads them (plugins.ts, RunnerPlugin). */
  options: z.record(z.string(), z.unknown()).optional(),
});
const priceSchema = z.strictObject({
  input: z.number().min(0),
  output: z.number().min(0),
  cache_write: z.number().min(0).optional(),
  cache_read: z.number().min(0).optional(),
});

const severitySchema = z.record(z.string(), z.enum(['error', 'warning', 'off']));
const listSchema = z.strictObject({ error: z.array(z.string()).optional(), warning: z.array(z.string()).optional() });
/** `lists:` per category the registered rule sets name. */
function listsSchema(categories: string[]): z.ZodType<Partial<Record<string, { error?: string[]; warning?: string[] }>>> {
  return categories.length ? z.partialRecord(z.enum(categories as [string, ...string[]]), listSchema) : z.strictObject({});
}
function validateSchema(r: SchemaKinds) {
  const refs = r.ruleSetRefs();
  const ruleSet = oneOf(refs, refs.length ? `expected ${refs.join(', ')}` : 'no rule set is registered');
  return z.union([
    ruleSet,
    commandSchema,
    z.strictObject({
      rules: ruleSet.optional(),
      command: commandSchema.optional(),
      timeout: durationSchema.optional(),
      severity: severitySchema.optional(),
      lists: listsSchema(r.listCategories()).optional(),
      /** The rule set's own settings, as it reads them (plugins.ts, RuleSet.options). */
      options: z.record(z.string(), z.unknown()).optional(),
    }),
  ]);
}
function mergeSchema(r: SchemaKinds) {
  const refs = r.mergeRefs();
  const json = z.literal('json');
  const version = z.string().optional();
  if (!refs.length) return z.union([json, z.strictObject({ format: json, version })]);
  const format = oneOf(refs, `expected ${refs.join(', ')}`);
  return z.union([json, format, z.strictObject({ format: z.union([json, format]), version })]);
}
/** `context: {<kind>: <phase>}`: one registered context kind. */
function contextSchema(kinds: string[]) {
  const phase = z.string().min(1);
  if (kinds.length <= 1) return z.strictObject(Object.fromEntries(kinds.map((k) => [k, phase]))) as z.ZodType<Record<string, string>>;
  return z
    .strictObject(Object.fromEntries(kinds.map((k) => [k, phase.optional()])))
    .refine((c) => Object.keys(c).length === 1, { message: `name one context: ${kinds.join(', ')}` }) as z.ZodType<Record<string, string>>;
}
const courseSchema = z.strictObject({
  code: z.string().min(1),
  target_language: z.string().min(1),
  known_language: z.string().min(1),
  target_name: z.string().min(1).optional(),
});

/** `schema:` a file (JSON or YAML), a domain's kind (`ssi:lego_pairs`), or the schema itself, inline. */
const itemSchemaSchema = z.union([z.string().min(1), z.record(z.string(), z.unknown())], {
  error: 'expected the JSON Schema of one output item: a file (schemas/item.json or .yaml), a kind such as ssi:lego_pairs, or the schema inline (a mapping)',
});

const phaseSchema = (r: SchemaKinds) => z.strictObject({
  name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, {
    message: 'a phase name is letters, digits, "_", "-" or "." and starts with a letter or "_"',
  }),
  from: z.string().min(1).describe('"seeds" or an earlier phase (default: the previous phase)').optional(),
  intelligence: z.string().min(1).describe("the prompt document the phase's agent follows"),
  runner: z.string().min(1).describe('a runner named under runners:'),
  output: z.string().min(1).describe("the merged output (also a target name)"),
  attempts: z.number().int().min(1).max(50).describe('agent runs per batch before it fails (default 3)').optional(),
  validate: validateSchema(r).describe("after the built-in checks: a command, a rule set (ssi:KIND), or {rules, command, …}").optional(),
  validate_timeout: durationSchema.describe('default 5m').optional(),
  max_output: sizeSchema.describe('default 20MB; a larger answer is an invalid output').optional(),
  merge: mergeSchema(r).describe('how the batches merge into the output (default json: one array)').optional(),
  deps: pathList.describe("other files this phase's batches depend on").optional(),
  description: z.string().optional(),
  items: z.enum(['batch', 'independent']).describe('independent: each item cached on its own (default batch)').optional(),
  context: contextSchema(r.contextNames()).describe('what an earlier phase tells each item (e.g. {vocabulary: PHASE})').optional(),
  schema: itemSchemaSchema.describe('the JSON Schema of ONE output item: a file (.json or YAML), inline, or a kind (ssi:KIND)').optional(),
  ...modelKeys,
});

/** `cache:`: a shared cache (cacheConfig.ts). Keys that look like credentials are refused before (parse.ts). */
const cacheSchema = z.strictObject({
  remote: z.string().superRefine((v, ctx) => {
    const r = parseRemoteLocation(v, '.');
    if (!r.ok) ctx.addIssue({ code: 'custom', message: r.error });
  }),
  endpoint: z
    .string()
    .superRefine((v, ctx) => {
      const e = endpointError(v);
      if (e) ctx.addIssue({ code: 'custom', message: e });
    })
    .optional(),
  region: z.string().min(1).optional(),
  mode: z.enum(['read-write', 'read', 'off']).optional(),
});

function buildSchema(r: SchemaKinds) {
  const documentKinds = r.documentNames();
  return z.strictObject({
    seeds: z.string().min(1).describe('a JSON array of objects, a .jsonl file, or a .txt file (one seed a line)'),
    id: z.string().min(1).describe('the field naming an item (default "id"); .txt seeds are numbered S0001, S0002, …').optional(),
    batch_size: z.number().int().min(1).max(100_000).describe('seeds per batch (default 20)').optional(),
    batching: z.enum(['positional', 'stable']).describe('stable: a seed inserted or deleted changes its own batch only (default positional)').optional(),
    jobs: z.number().int().min(1).max(256).describe('agent and validator processes at once (default 4; -j N)').optional(),
    course: courseSchema.describe('a language course (the ssi domain)').optional(),
    prices: z.record(z.string(), priceSchema).describe('USD per million tokens, per model').optional(),
    cache: cacheSchema.describe('a shared cache of built batches (s3://BUCKET/PREFIX or a directory)').optional(),
    /** `queue:`: the Redis server of `cf build --queue` and `cf worker` (queueConfig.ts). */
    queue: z
      .string()
      .superRefine((v, ctx) => {
        const q = parseQueueUrl(v);
        if (!q.ok) ctx.addIssue({ code: 'custom', message: q.error });
      })
      .describe('the Redis server of cf build --queue and cf worker (redis://HOST:PORT)')
      .optional(),
    runners: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/), runnerSchema(r.runnerKindRefs(), oneOf(documentKinds, `expected one of ${documentKinds.join(', ')}`))).describe('ways to run an agent, by name'),
    phases: z.array(phaseSchema(r)).min(1, { message: 'at least one phase is needed' }).describe('in order; each reads seeds or an earlier phase'),
  });
}

export type PipelineSchema = ReturnType<typeof buildSchema>;

const built = new Map<SchemaKinds, { signature: string; schema: PipelineSchema }>();

/** The schema of pipeline.yaml with the kinds this registry knows now. */
export function pipelineSchema(r: SchemaKinds): PipelineSchema {
  let b = built.get(r);
  if (b?.signature !== r.signature) built.set(r, (b = { signature: r.signature, schema: buildSchema(r) }));
  return b.schema;
}

/** pipeline.yaml as the schema gives it, before it is normalised into a Pipeline (pipeline.ts). */
export type RawPipeline = z.infer<PipelineSchema>;
export type RawRunner = RawPipeline['runners'][string];
export type RawPhase = RawPipeline['phases'][number];
export type RawValidate = NonNullable<RawPhase['validate']>;
export type RawMerge = NonNullable<RawPhase['merge']>;
export type RawPrice = z.infer<typeof priceSchema>;
