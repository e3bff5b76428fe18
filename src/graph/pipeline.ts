import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { isMap, isPair, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { suggestion } from '../util/didYouMean.js';
import { parseDuration } from '../util/duration.js';
import type { UserError } from '../util/errors.js';
import { err, ok, type Result } from '../util/result.js';

export const PIPELINE_FILE = 'pipeline.yaml';

/** How a process is started: an argv run without a shell, or a string run by /bin/sh. */
export type CommandSpec = { argv: string[] } | { shell: string };

export interface RunnerConfig {
  name: string;
  kind: 'command';
  command: CommandSpec;
  timeoutMs: number;
  env: Record<string, string>;
  /** Extra files whose content is part of every key that uses this runner (e.g. data the agent reads). */
  deps: string[];
}

export interface PhaseConfig {
  name: string;
  index: number;
  /** "seeds" or an earlier phase's name. */
  from: string;
  intelligence: string;
  runner: string;
  output: string;
  attempts: number;
  validate: CommandSpec | null;
  validateTimeoutMs: number;
  deps: string[];
}

export interface Pipeline {
  /** Absolute directory holding pipeline.yaml; every relative path is relative to it. */
  dir: string;
  file: string;
  seeds: string;
  idField: string;
  batchSize: number;
  jobs: number;
  runners: Map<string, RunnerConfig>;
  phases: PhaseConfig[];
}

const DEFAULT_TIMEOUT_MS = 30 * 60_000;
const DEFAULT_VALIDATE_TIMEOUT_MS = 5 * 60_000;

const durationSchema = z
  .union([z.string(), z.number()])
  .refine((v) => parseDuration(v) !== null, { message: 'expected a duration such as 90s, 5m, 1h or 500ms' });
const commandSchema = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)], {
  error: 'expected a command: a list of arguments ([node, agent.js]) or a shell string',
});
const pathList = z.array(z.string().min(1));

const runnerSchema = z.strictObject({
  kind: z.literal('command').optional(),
  command: commandSchema,
  timeout: durationSchema.optional(),
  env: z.record(z.string(), z.string()).optional(),
  deps: pathList.optional(),
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
  validate: commandSchema.optional(),
  validate_timeout: durationSchema.optional(),
  deps: pathList.optional(),
  description: z.string().optional(),
});

const pipelineSchema = z.strictObject({
  seeds: z.string().min(1),
  id: z.string().min(1).optional(),
  batch_size: z.number().int().min(1).max(100_000).optional(),
  jobs: z.number().int().min(1).max(256).optional(),
  runners: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/), runnerSchema),
  phases: z.array(phaseSchema).min(1, { message: 'at least one phase is needed' }),
});

/** Allowed keys per place in the file, for did-you-mean on unknown keys. */
function allowedKeys(at: readonly PropertyKey[]): string[] {
  if (at.length === 0) return Object.keys(pipelineSchema.shape);
  if (at[0] === 'runners' && at.length === 2) return Object.keys(runnerSchema.shape);
  if (at[0] === 'phases' && at.length === 2) return Object.keys(phaseSchema.shape);
  return [];
}

function toCommand(c: string | string[]): CommandSpec {
  return typeof c === 'string' ? { shell: c } : { argv: c };
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

export async function loadPipeline(dir: string): Promise<Result<Pipeline, UserError>> {
  const file = path.join(dir, PIPELINE_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return err({
      kind: 'config',
      file,
      message: `no ${PIPELINE_FILE} here`,
      hint: 'run cf in the directory that holds pipeline.yaml, or pass -C DIR',
    });
  }
  return parsePipeline(dir, file, text);
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
      message: `not valid YAML: ${e.message.split('\n')[0]}`,
    });
  }
  const loc = new Locator(doc, lines);
  const raw: unknown = doc.toJS();
  const parsed = pipelineSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    // An unknown key first: it is often the misspelling of the key reported missing.
    const issue = parsed.error.issues.find((i) => i.code === 'unrecognized_keys') ?? parsed.error.issues[0]!;
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
    runners.set(name, {
      name,
      kind: 'command',
      command: toCommand(r.command),
      timeoutMs: r.timeout !== undefined ? parseDuration(r.timeout)! : DEFAULT_TIMEOUT_MS,
      env: r.env ?? {},
      deps: r.deps ?? [],
    });
  }

  const phases: PhaseConfig[] = [];
  const outputs = new Map<string, string>();
  for (const [i, p] of cfg.phases.entries()) {
    if (p.name === 'seeds') return fail(['phases', i, 'name'], '"seeds" is reserved for the seeds file; pick another name');
    if (phases.some((q) => q.name === p.name)) return fail(['phases', i, 'name'], `phase "${p.name}" is defined twice`);
    const from = p.from ?? (i === 0 ? 'seeds' : phases[i - 1]!.name);
    if (from !== 'seeds' && !phases.some((q) => q.name === from)) {
      const later = cfg.phases.slice(i).some((q) => q.name === from);
      return fail(
        ['phases', i, 'from'],
        later
          ? `"${from}" is a later phase; a phase can only read "seeds" or an earlier phase`
          : `unknown phase "${from}"${suggestion(from, ['seeds', ...phases.map((q) => q.name)])}`,
        later ? 'move this phase after the one it reads from' : undefined,
      );
    }
    if (!runners.has(p.runner)) {
      return fail(
        ['phases', i, 'runner'],
        `unknown runner "${p.runner}"${suggestion(p.runner, runners.keys())}`,
        runners.size > 0 ? `defined runners: ${[...runners.keys()].join(', ')}` : 'define it under runners:',
      );
    }
    const output = path.normalize(p.output);
    if (path.isAbsolute(output) || output.startsWith('..')) {
      return fail(['phases', i, 'output'], 'the output must be a path inside the pipeline directory');
    }
    if (output === '.cf' || output.startsWith(`.cf${path.sep}`)) return fail(['phases', i, 'output'], '.cf/ is cf\'s own state directory');
    const other = outputs.get(output);
    if (other) return fail(['phases', i, 'output'], `phase "${other}" already writes ${output}`);
    outputs.set(output, p.name);
    phases.push({
      name: p.name,
      index: i,
      from,
      intelligence: path.normalize(p.intelligence),
      runner: p.runner,
      output,
      attempts: p.attempts ?? 3,
      validate: p.validate !== undefined ? toCommand(p.validate) : null,
      validateTimeoutMs: p.validate_timeout !== undefined ? parseDuration(p.validate_timeout)! : DEFAULT_VALIDATE_TIMEOUT_MS,
      deps: p.deps ?? [],
    });
  }

  const pipeline: Pipeline = {
    dir,
    file: shown,
    seeds: path.normalize(cfg.seeds),
    idField: cfg.id ?? 'id',
    batchSize: cfg.batch_size ?? 20,
    jobs: cfg.jobs ?? 4,
    runners,
    phases,
  };

  // Files the pipeline names must exist: checked now, before anything is built or touched.
  const mustExist: Array<{ at: PropertyKey[]; rel: string; what: string }> = [{ at: ['seeds'], rel: pipeline.seeds, what: 'seeds file' }];
  for (const [i, p] of phases.entries()) {
    mustExist.push({ at: ['phases', i, 'intelligence'], rel: p.intelligence, what: 'intelligence file' });
    p.deps.forEach((d, j) => mustExist.push({ at: ['phases', i, 'deps', j], rel: d, what: 'dependency' }));
  }
  for (const r of runners.values()) {
    r.deps.forEach((d, j) => mustExist.push({ at: ['runners', r.name, 'deps', j], rel: d, what: 'dependency' }));
  }
  for (const m of mustExist) {
    const st = await stat(path.resolve(dir, m.rel)).catch(() => null);
    if (!st?.isFile()) {
      return fail(m.at, `${m.what} ${m.rel} ${st ? 'is not a file' : 'does not exist'}`, `paths are relative to ${shown}'s directory`);
    }
  }
  return ok(pipeline);
}
