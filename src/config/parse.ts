import { stat } from 'node:fs/promises';
import path from 'node:path';
import { isMap, isPair, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { suggestion } from '../util/didYouMean.js';
import { parseDuration } from '../util/duration.js';
import { parseSize } from '../util/size.js';
import type { UserError } from '../util/errors.js';
import { err, ok, type Result } from '../util/result.js';
import { SSI_KINDS, type SsiKind } from '../domains/ssi/types.js';
import { knownLanguageName } from '../domains/ssi/languageNames.js';
import { RULES } from '../domains/ssi/validators.js';
import { DEFAULT_PRICES, type Price } from '../exec/runners/pricing.js';
import {
  PIPELINE_FILE,
  pipelineInputs,
  RUNNER_KINDS,
  type CommandSpec,
  type MergeConfig,
  type ModelSettings,
  type PhaseConfig,
  type Pipeline,
  type RunnerConfig,
  type ValidateConfig,
} from './pipeline.js';

/*
 * Reading pipeline.yaml: YAML with source positions, a zod schema, then the checks that need the whole
 * file. Loaded only when pipeline.yaml changed since cf last read it (pipeline.ts keeps the result).
 */

const DEFAULT_TIMEOUT_MS = 30 * 60_000;
const DEFAULT_VALIDATE_TIMEOUT_MS = 5 * 60_000;
/** Generous: the largest real phase answer seen is a few MB; a runaway agent's is refused before cf reads it. */
const DEFAULT_MAX_OUTPUT = 20_000_000;

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

const ssiKind = z.enum(SSI_KINDS as unknown as [SsiKind, ...SsiKind[]], { error: `expected one of ${SSI_KINDS.join(', ')}` });
const ssiRef = z.templateLiteral(['ssi:', ssiKind], { error: `expected ${SSI_KINDS.map((k) => `ssi:${k}`).join(', ')}` });

/** One schema for every runner kind (so unknown keys get a did-you-mean); which keys a kind needs is checked after. */
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
const runnerSchema = z.strictObject({
  kind: z.enum(RUNNER_KINDS, { error: `expected a runner kind: ${RUNNER_KINDS.join(', ')}` }).optional(),
  command: commandSchema.optional(),
  preset: z.enum(['claude-code'], { error: 'expected a preset: claude-code' }).optional(),
  args: z.array(z.string()).optional(),
  cwd: z.enum(['pipeline', 'run']).optional(),
  recording: z.string().min(1).optional(),
  as: ssiKind.optional(),
  ...modelKeys,
  api_key_env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'the NAME of an environment variable (never the key itself)' }).optional(),
  base_url: z.url().optional(),
  mode: z.enum(['messages', 'batch']).optional(),
  poll_interval: durationSchema.optional(),
  max_retries: z.number().int().min(0).max(20).optional(),
  limits: limitsSchema.optional(),
  timeout: durationSchema.optional(),
  env: z.record(z.string(), z.string()).optional(),
  deps: pathList.optional(),
});
const priceSchema = z.strictObject({
  input: z.number().min(0),
  output: z.number().min(0),
  cache_write: z.number().min(0).optional(),
  cache_read: z.number().min(0).optional(),
});

const severitySchema = z.record(z.string(), z.enum(['error', 'warning', 'off']));
const listsSchema = z.partialRecord(
  z.enum(['article', 'auxiliary', 'negation', 'object_pronoun']),
  z.strictObject({ error: z.array(z.string()).optional(), warning: z.array(z.string()).optional() }),
);
const validateSchema = z.union([
  ssiRef,
  commandSchema,
  z.strictObject({
    rules: ssiRef.optional(),
    command: commandSchema.optional(),
    timeout: durationSchema.optional(),
    severity: severitySchema.optional(),
    lists: listsSchema.optional(),
  }),
]);
const mergeSchema = z.union([
  z.literal('json'),
  ssiRef,
  z.strictObject({ format: z.union([z.literal('json'), ssiRef]), version: z.string().optional() }),
]);
const courseSchema = z.strictObject({
  code: z.string().min(1),
  target_language: z.string().min(1),
  known_language: z.string().min(1),
  target_name: z.string().min(1).optional(),
});

const phaseSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, {
    message: 'a phase name is letters, digits, "_", "-" or "." and starts with a letter or "_"',
  }),
  from: z.string().min(1).optional(),
  intelligence: z.string().min(1),
  runner: z.string().min(1),
  output: z.string().min(1),
  attempts: z.number().int().min(1).max(50).optional(),
  validate: validateSchema.optional(),
  validate_timeout: durationSchema.optional(),
  max_output: sizeSchema.optional(),
  merge: mergeSchema.optional(),
  deps: pathList.optional(),
  description: z.string().optional(),
  items: z.enum(['batch', 'independent']).optional(),
  context: z.strictObject({ vocabulary: z.string().min(1) }).optional(),
  ...modelKeys,
});

const pipelineSchema = z.strictObject({
  seeds: z.string().min(1),
  id: z.string().min(1).optional(),
  batch_size: z.number().int().min(1).max(100_000).optional(),
  batching: z.enum(['positional', 'stable']).optional(),
  jobs: z.number().int().min(1).max(256).optional(),
  course: courseSchema.optional(),
  prices: z.record(z.string(), priceSchema).optional(),
  runners: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/), runnerSchema),
  phases: z.array(phaseSchema).min(1, { message: 'at least one phase is needed' }),
});

/** Allowed keys per place in the file, for did-you-mean on unknown keys. */
/** The keys the schema allows at a key path (walking objects, arrays, records and the forms of a union). */
function allowedKeys(at: readonly PropertyKey[]): string[] {
  return [...new Set(keysAt(pipelineSchema as unknown as z.core.$ZodType, at))];
}

function keysAt(schema: z.core.$ZodType, at: readonly PropertyKey[]): string[] {
  const def = schema._zod.def as z.core.$ZodTypeDef & Record<string, unknown>;
  switch (def.type) {
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
      return keysAt(def.innerType as z.core.$ZodType, at);
    case 'pipe':
      return keysAt(def.in as z.core.$ZodType, at);
    case 'union':
      return (def.options as z.core.$ZodType[]).flatMap((o) => keysAt(o, at));
    case 'array':
      return at.length === 0 ? [] : keysAt(def.element as z.core.$ZodType, at.slice(1));
    case 'object': {
      const shape = def.shape as Record<string, z.core.$ZodType>;
      if (at.length === 0) return Object.keys(shape);
      const next = shape[String(at[0])];
      return next ? keysAt(next, at.slice(1)) : [];
    }
    case 'record': {
      if (at.length > 0) return keysAt(def.valueType as z.core.$ZodType, at.slice(1));
      const keyDef = (def.keyType as z.core.$ZodType)._zod.def as z.core.$ZodTypeDef & Record<string, unknown>;
      return keyDef.type === 'enum' ? Object.keys(keyDef.entries as Record<string, unknown>) : [];
    }
    default:
      return [];
  }
}

function toCommand(c: string | string[]): CommandSpec {
  return typeof c === 'string' ? { shell: c } : { argv: c };
}

const ssiOf = (ref: string): SsiKind => ref.slice('ssi:'.length) as SsiKind;

function toValidate(v: z.infer<typeof validateSchema> | undefined, timeout: string | number | undefined): ValidateConfig | null {
  if (v === undefined) return null;
  let timeoutMs = timeout !== undefined ? parseDuration(timeout)! : DEFAULT_VALIDATE_TIMEOUT_MS;
  const base: ValidateConfig = { rules: null, command: null, timeoutMs, severity: {}, lists: {} };
  if (typeof v === 'string' && v.startsWith('ssi:') && (SSI_KINDS as readonly string[]).includes(v.slice(4))) return { ...base, rules: ssiOf(v) };
  if (typeof v === 'string' || Array.isArray(v)) return { ...base, command: toCommand(v) };
  if (v.timeout !== undefined) timeoutMs = parseDuration(v.timeout)!;
  return {
    rules: v.rules ? ssiOf(v.rules) : null,
    command: v.command !== undefined ? toCommand(v.command) : null,
    timeoutMs,
    severity: v.severity ?? {},
    lists: v.lists ?? {},
  };
}

/** Claude Code headless: the prompt on stdin, a JSON envelope on stdout, file edits allowed, the pipeline readable. */
function claudeCodeArgv(dir: string, model: string | undefined, extra: string[]): string[] {
  return ['claude', '-p', '--output-format', 'json', '--permission-mode', 'acceptEdits', '--add-dir', dir, ...(model ? ['--model', model] : []), ...extra];
}

function toPrices(p: Record<string, z.infer<typeof priceSchema>>): Record<string, Price> {
  const out: Record<string, Price> = {};
  for (const [model, x] of Object.entries(p)) {
    out[model] = { input: x.input, output: x.output, cacheWrite: x.cache_write ?? x.input * 1.25, cacheRead: x.cache_read ?? x.input / 10 };
  }
  return out;
}

function toMerge(m: z.infer<typeof mergeSchema> | undefined): MergeConfig {
  if (m === undefined || m === 'json') return { format: 'json', version: null };
  if (typeof m === 'string') return { format: ssiOf(m), version: null };
  return { format: m.format === 'json' ? 'json' : ssiOf(m.format), version: m.version ?? null };
}

export function formatKeyPath(at: readonly PropertyKey[]): string {
  let out = '';
  for (const p of at) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out;
}

/** Locates a key path in the YAML document: the line and column of the value (or of `key` in the map at `at`). */
class Locator {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  at(at: readonly PropertyKey[], key?: string): { line?: number; column?: number } {
    let node: unknown = this.doc.getIn(at as unknown[], true);
    let trimmed = [...at];
    while (node === undefined && trimmed.length > 0) {
      trimmed = trimmed.slice(0, -1);
      node = this.doc.getIn(trimmed as unknown[], true);
    }
    if (node === undefined) node = this.doc.contents;
    if (key !== undefined && isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === key);
      if (pair && isScalar(pair.key)) node = pair.key;
    }
    const range = (node as { range?: [number, number, number] } | null)?.range;
    if (!range) return {};
    const pos = this.lines.linePos(range[0]);
    return { line: pos.line, column: pos.col };
  }
}

/**
 * A value that may take several forms (a command string or argv, or an object) fails as a whole with zod's
 * bare "Invalid input". When exactly one form matches the value's type, its own issue says more: use it.
 */
function unwrapUnion(issue: z.core.$ZodIssue): z.core.$ZodIssue {
  if (issue.code !== 'invalid_union' || issue.errors.length === 0) return issue;
  const wrongType = (i: z.core.$ZodIssue): boolean =>
    i.path.length === 0 && (i.code === 'invalid_type' || (i.code === 'invalid_union' && i.errors.every((b) => b.every(wrongType))));
  const deeper = issue.errors.filter((branch) => branch.length > 0 && !branch.every(wrongType));
  if (deeper.length !== 1) return issue;
  const inner = deeper[0]!.find((i) => i.code === 'unrecognized_keys') ?? deeper[0]![0]!;
  return unwrapUnion({ ...inner, path: [...issue.path, ...inner.path] } as z.core.$ZodIssue);
}

export async function parsePipeline(dir: string, file: string, text: string): Promise<Result<Pipeline, UserError>> {
  const shown = path.relative(process.cwd(), file) || file;
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const pos = e.linePos?.[0];
    return err({
      kind: 'config',
      file: shown,
      line: pos?.line,
      column: pos?.col,
      message: `not valid YAML: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`,
    });
  }
  const loc = new Locator(doc, lines);
  const raw: unknown = doc.toJS();
  const parsed = pipelineSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    // An unknown key first: it is often the misspelling of the key reported missing.
    const issue = unwrapUnion(parsed.error.issues.find((i) => i.code === 'unrecognized_keys') ?? parsed.error.issues[0]!);
    if (issue.code === 'unrecognized_keys') {
      const key = issue.keys[0]!;
      const where = loc.at(issue.path, key);
      return err({
        kind: 'config',
        file: shown,
        ...where,
        path: formatKeyPath([...issue.path, key]),
        message: `unknown key "${key}"${suggestion(key, allowedKeys(issue.path))}`,
        hint: `allowed here: ${allowedKeys(issue.path).join(', ')}`,
      });
    }
    const where = loc.at(issue.path);
    const missing = issue.code === 'invalid_type' && /received undefined/.test(issue.message);
    return err({
      kind: 'config',
      file: shown,
      ...where,
      path: formatKeyPath(issue.path) || '(top level)',
      message: missing ? 'this key is required' : issue.message,
    });
  }
  const cfg = parsed.data;
  const fail = (at: PropertyKey[], message: string, hint?: string): Result<never, UserError> =>
    err({ kind: 'config', file: shown, ...loc.at(at), path: formatKeyPath(at), message, hint });

  const runners = new Map<string, RunnerConfig>();
  for (const [name, r] of Object.entries(cfg.runners)) {
    const base = {
      name,
      timeoutMs: r.timeout !== undefined ? parseDuration(r.timeout)! : DEFAULT_TIMEOUT_MS,
      env: r.env ?? {},
      deps: r.deps ?? [],
    };
    const kind = r.kind ?? (r.recording !== undefined && r.command === undefined ? 'replay' : 'command');
    const at = ['runners', name];
    const notFor = (key: string): Result<never, UserError> => fail([...at, key], `"${key}" does not apply to a ${kind} runner`);
    const present = (keys: Array<keyof typeof r>): keyof typeof r | undefined => keys.find((k) => r[k] !== undefined);
    const model: ModelSettings = {
      ...(r.model !== undefined ? { model: r.model } : {}),
      ...(r.max_tokens !== undefined ? { maxTokens: r.max_tokens } : {}),
      ...(r.temperature !== undefined ? { temperature: r.temperature } : {}),
    };
    const limits = {
      ...(r.limits?.concurrency !== undefined ? { concurrency: r.limits.concurrency } : {}),
      ...(r.limits?.requests_per_minute !== undefined ? { requestsPerMinute: r.limits.requests_per_minute } : {}),
      ...(r.limits?.tokens_per_minute !== undefined ? { tokensPerMinute: r.limits.tokens_per_minute } : {}),
    };
    switch (kind) {
      case 'command': {
        const bad = present(['recording', 'as', 'api_key_env', 'base_url', 'mode', 'poll_interval', 'max_retries', 'max_tokens', 'temperature']);
        if (bad) return notFor(bad);
        if (r.preset === undefined && r.model !== undefined) return fail([...at, 'model'], '"model" on a command runner needs a preset that passes it (preset: claude-code)');
        if (r.preset === undefined && r.args !== undefined) return fail([...at, 'args'], '"args" adds arguments to a preset; put them in "command" instead');
        let command: CommandSpec;
        if (r.preset === 'claude-code') {
          if (r.command !== undefined) return fail([...at, 'command'], 'preset: claude-code builds the command itself; use "args" to add arguments');
          command = { argv: claudeCodeArgv(dir, r.model, r.args ?? []) };
        } else if (r.command === undefined) {
          return fail(at, 'a command runner needs "command" (or a preset)', 'command: [node, agent.js], a shell string, or preset: claude-code');
        } else {
          command = toCommand(r.command);
        }
        runners.set(name, { ...base, kind, command, preset: r.preset ?? null, cwd: r.cwd ?? (r.preset ? 'run' : 'pipeline'), model, limits });
        break;
      }
      case 'replay': {
        const bad = present(['command', 'preset', 'args', 'cwd', 'model', 'max_tokens', 'temperature', 'api_key_env', 'base_url', 'mode', 'poll_interval', 'max_retries', 'limits']);
        if (bad) return notFor(bad);
        if (r.recording === undefined) return fail(at, 'a replay runner needs "recording": the file it answers from');
        runners.set(name, { ...base, kind, recording: path.normalize(r.recording), as: r.as ?? null, deps: [...base.deps, path.normalize(r.recording)] });
        break;
      }
      case 'anthropic':
      case 'openai': {
        const bad = present(['command', 'preset', 'args', 'cwd', 'recording', 'as']);
        if (bad) return notFor(bad);
        if (r.model === undefined) return fail(at, `a ${kind} runner needs "model"`, kind === 'anthropic' ? 'e.g. model: claude-sonnet-4-5' : 'e.g. model: gpt-4.1-mini');
        if (r.mode === 'batch' && kind !== 'anthropic') return fail([...at, 'mode'], 'mode: batch (Message Batches) is an anthropic runner setting');
        runners.set(name, {
          ...base,
          kind,
          model: { ...model, model: r.model, maxTokens: r.max_tokens ?? 8192 },
          apiKeyEnv: r.api_key_env ?? (kind === 'anthropic' ? 'ANTHROPIC_API_KEY' : 'OPENAI_API_KEY'),
          baseUrl: r.base_url ?? null,
          mode: r.mode ?? 'messages',
          pollIntervalMs: r.poll_interval !== undefined ? parseDuration(r.poll_interval)! : 30_000,
          maxRetries: r.max_retries ?? 6,
          limits,
        });
        break;
      }
    }
  }

  const phases: PhaseConfig[] = [];
  const outputs = new Map<string, string>();
  for (const [i, p] of cfg.phases.entries()) {
    if (p.name === 'seeds') return fail(['phases', i, 'name'], '"seeds" is reserved for the seeds file; pick another name');
    if (phases.some((q) => q.name === p.name)) return fail(['phases', i, 'name'], `phase "${p.name}" is defined twice`);
    const from = p.from ?? (i === 0 ? 'seeds' : phases[i - 1]!.name);
    if (from === p.name) {
      return fail(['phases', i, 'from'], `phase "${p.name}" cannot read its own output`, `a phase reads one of: ${['seeds', ...phases.map((q) => q.name)].join(', ')}`);
    }
    if (from !== 'seeds' && !phases.some((q) => q.name === from)) {
      const later = cfg.phases.slice(i).some((q) => q.name === from);
      return fail(
        ['phases', i, 'from'],
        later
          ? `"${from}" is a later phase; a phase can only read "seeds" or an earlier phase`
          : `unknown phase "${from}"${suggestion(from, ['seeds', ...phases.map((q) => q.name)])}`,
        later ? 'move this phase after the one it reads from' : `a phase reads one of: ${['seeds', ...phases.map((q) => q.name)].join(', ')}`,
      );
    }
    if (!runners.has(p.runner)) {
      return fail(
        ['phases', i, 'runner'],
        `unknown runner "${p.runner}"${suggestion(p.runner, runners.keys())}`,
        runners.size > 0 ? `defined runners: ${[...runners.keys()].join(', ')}` : 'define it under runners:',
      );
    }
    const rc = runners.get(p.runner)!;
    if (rc.kind === 'command' || rc.kind === 'replay') {
      // A command agent gets no max_tokens/temperature; only a preset passes a model (claude-code: --model).
      const ignored = (['max_tokens', 'temperature', ...(rc.kind === 'command' && rc.preset ? [] : ['model' as const])] as const).find((k) => p[k] !== undefined);
      if (ignored) return fail(['phases', i, ignored], `"${ignored}" does not apply to the ${rc.kind} runner "${p.runner}"`);
    }
    const output = path.normalize(p.output);
    if (path.isAbsolute(output) || output.startsWith('..')) {
      return fail(['phases', i, 'output'], 'the output must be a path inside the pipeline directory');
    }
    if (output === '.cf' || output.startsWith(`.cf${path.sep}`)) return fail(['phases', i, 'output'], '.cf/ is cf\'s own state directory');
    const other = outputs.get(output);
    if (other) return fail(['phases', i, 'output'], `phase "${other}" already writes ${output}`);
    outputs.set(output, p.name);
    if (p.context && !phases.some((q) => q.name === p.context!.vocabulary)) {
      const later = cfg.phases.slice(i).some((q) => q.name === p.context!.vocabulary);
      return fail(
        ['phases', i, 'context', 'vocabulary'],
        p.context.vocabulary === p.name
          ? `phase "${p.name}" cannot read its own output as its context`
          : later
            ? `"${p.context.vocabulary}" is not an earlier phase: a context comes from a phase before this one`
            : `unknown phase "${p.context.vocabulary}"${suggestion(p.context.vocabulary, phases.map((q) => q.name))}`,
      );
    }
    const v = typeof p.validate === 'object' && !Array.isArray(p.validate) ? p.validate : null;
    if (v?.severity) {
      const known: readonly string[] = v.rules ? RULES[ssiOf(v.rules)] : [];
      for (const rule of Object.keys(v.severity)) {
        if (!known.includes(rule)) {
          return fail(
            ['phases', i, 'validate', 'severity', rule],
            v.rules ? `${v.rules} has no rule "${rule}"${suggestion(rule, known)}` : 'severity applies to a rule set: add rules: ssi:…',
            v.rules ? `its rules: ${known.join(', ')}` : undefined,
          );
        }
      }
    }
    if (p.merge !== undefined && p.merge !== 'json' && !cfg.course) {
      return fail(['phases', i, 'merge'], 'an SSi merge needs the course it belongs to', 'add course: {code: spa_for_eng, target_language: spa, known_language: eng}');
    }
    phases.push({
      name: p.name,
      index: i,
      from,
      intelligence: path.normalize(p.intelligence),
      runner: p.runner,
      output,
      attempts: p.attempts ?? 3,
      maxOutput: p.max_output !== undefined ? parseSize(p.max_output)! : DEFAULT_MAX_OUTPUT,
      validate: toValidate(p.validate, p.validate_timeout),
      merge: toMerge(p.merge),
      deps: p.deps ?? [],
      items: p.items ?? 'batch',
      context: p.context ? { vocabulary: p.context.vocabulary } : null,
      model: {
        ...(p.model !== undefined ? { model: p.model } : {}),
        ...(p.max_tokens !== undefined ? { maxTokens: p.max_tokens } : {}),
        ...(p.temperature !== undefined ? { temperature: p.temperature } : {}),
      },
    });
  }

  const pipeline: Pipeline = {
    dir,
    file: shown,
    seeds: path.normalize(cfg.seeds),
    idField: cfg.id ?? 'id',
    batchSize: cfg.batch_size ?? 20,
    batching: cfg.batching ?? 'positional',
    jobs: cfg.jobs ?? 4,
    course: cfg.course
      ? {
          code: cfg.course.code,
          targetLanguage: cfg.course.target_language,
          knownLanguage: cfg.course.known_language,
          targetName: cfg.course.target_name ?? knownLanguageName(cfg.course.target_language),
        }
      : null,
    runners,
    phases,
    prices: { ...DEFAULT_PRICES, ...toPrices(cfg.prices ?? {}) },
  };
  // Where the commands are set: a command that cannot start is reported there (commandCheck.ts).
  const locations: Record<string, { line?: number; column?: number }> = {};
  for (const r of runners.values()) {
    if (r.kind !== 'command') continue;
    const key = r.preset ? 'preset' : 'command';
    locations[`runners.${r.name}.${key}`] = loc.at(['runners', r.name, key]);
  }
  for (const [i, p] of phases.entries()) if (p.validate?.command) locations[`phases[${i}].validate`] = loc.at(['phases', i, 'validate', 'command']);
  pipeline.locations = locations;

  // An output is a file only cf writes: one that is also read (an input of this pipeline) would be
  // overwritten by the merge, and the next build would read what it wrote.
  const inputs = pipelineInputs(pipeline);
  for (const [i, p] of phases.entries()) {
    const read = p.output === PIPELINE_FILE ? { what: 'pipeline file', at: [] } : inputs.find((f) => path.normalize(f.rel) === p.output);
    if (read) {
      const where = read.at.length ? ` (${read.what}, ${formatKeyPath(read.at)})` : '';
      return fail(['phases', i, 'output'], `${p.output} is read by this pipeline${where}; an output must be a file that only cf writes`, `name a new file for the merged output, e.g. out/${p.name}.json`);
    }
  }
  // Files the pipeline names must exist: checked now, before anything is built or touched.
  for (const m of inputs) {
    if (!m.required) continue;
    const st = await stat(path.resolve(dir, m.rel)).catch(() => null);
    if (!st?.isFile()) {
      return fail(m.at, `${m.what} ${m.rel} ${st ? 'is not a file' : 'does not exist'}`, `paths are relative to ${shown}'s directory`);
    }
  }
  return ok(pipeline);
}

