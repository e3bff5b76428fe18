import { PIPELINE_DIR, type CommandSpec } from '../config/pipeline.js';
import type { Item } from '../config/seeds.js';
import { spawnTree } from './processes/processes.js';
import { stderrDetail } from './processes/stderrSummary.js';
import type { AttemptFiles } from './attemptFiles.js';
import { scrubSecrets } from '../util/secrets.js';

/** One problem with an attempt's output: `item` when it is about one item, `lego`/`rule` when a rule set says so. */
export interface ValidationError {
  item?: string;
  lego?: string;
  rule?: string;
  message: string;
}

/** "S0045: S0045L02 [tiling] message": how an error reads in prompts, logs and reports. */
export function describeError(e: ValidationError): string {
  return `${e.item ? `${e.item}: ` : ''}${e.lego && e.lego !== e.item ? `${e.lego} ` : ''}${e.rule ? `[${e.rule}] ` : ''}${e.message}`;
}

const MAX_LISTED = 20;

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'string' ? 'a string' : `a ${typeof v}`;
}

/**
 * The checks every phase gets: the output is a JSON array of objects holding every input id exactly once
 * and no other. Returns the parsed items when they pass.
 */
export function builtinValidate(
  text: string | null,
  inputIds: string[],
  idField: string,
): { ok: true; items: Item[] } | { ok: false; errors: ValidationError[] } {
  if (text === null) return { ok: false, errors: [{ message: 'the agent wrote no output file (CF_OUTPUT_FILE)' }] };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    return { ok: false, errors: [{ message: `the output is not valid JSON: ${(e as Error).message}` }] };
  }
  if (!Array.isArray(parsed)) {
    return { ok: false, errors: [{ message: `the output must be a JSON array of objects, not ${describe(parsed)}` }] };
  }
  const errors: ValidationError[] = [];
  const expected = new Set(inputIds);
  const seen = new Set<string>();
  for (const [i, v] of parsed.entries()) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      errors.push({ message: `output element ${i + 1} is ${describe(v)}, not an object` });
      continue;
    }
    const id = (v as Item)[idField];
    if (typeof id !== 'string') {
      errors.push({ message: `output element ${i + 1} has no "${idField}" string` });
      continue;
    }
    if (!expected.has(id)) errors.push({ item: id, message: `${id} is not an input item of this batch` });
    else if (seen.has(id)) errors.push({ item: id, message: `${id} appears more than once` });
    seen.add(id);
  }
  for (const id of inputIds) if (!seen.has(id)) errors.push({ item: id, message: `${id} is missing from the output` });
  if (errors.length > MAX_LISTED) {
    const n = errors.length - MAX_LISTED;
    errors.length = MAX_LISTED;
    errors.push({ message: `and ${n} more errors` });
  }
  if (errors.length) return { ok: false, errors };
  // Stored in input order whatever order the agent wrote, so merged outputs are in seed order.
  const byId = new Map((parsed as Item[]).map((it) => [it[idField] as string, it]));
  return { ok: true, items: inputIds.map((id) => byId.get(id)!) };
}

/**
 * The built-in checks item by item, for a run over the items of several batches: which items came back
 * well formed (exactly once, an object with its id), and the errors of each one that did not. An error
 * about the output as a whole (no file, not JSON, not an array) is every item's; one about an element
 * that names no asked-for item (no id, another id) is every missing item's, since it may be that item.
 */
export function partitionOutput(
  text: string | null,
  inputIds: string[],
  idField: string,
): { items: Map<string, Item>; failed: Map<string, ValidationError[]> } {
  const items = new Map<string, Item>();
  const failed = new Map<string, ValidationError[]>();
  const whole = builtinValidate(text, inputIds, idField);
  if (whole.ok) {
    for (const [i, id] of inputIds.entries()) items.set(id, whole.items[i]!);
    return { items, failed };
  }
  let parsed: unknown = null;
  try {
    parsed = text === null ? null : JSON.parse(text);
  } catch {
    // Reported below as the whole output's error.
  }
  if (!Array.isArray(parsed)) {
    for (const id of inputIds) failed.set(id, whole.errors);
    return { items, failed };
  }
  const expected = new Set(inputIds);
  const count = new Map<string, number>();
  const stray: ValidationError[] = [];
  for (const [i, v] of parsed.entries()) {
    const id = v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Item)[idField] : undefined;
    if (typeof id !== 'string') {
      stray.push({ message: v !== null && typeof v === 'object' && !Array.isArray(v) ? `output element ${i + 1} has no "${idField}" string` : `output element ${i + 1} is ${describe(v)}, not an object` });
      continue;
    }
    if (!expected.has(id)) {
      stray.push({ message: `output element ${i + 1} has ${idField} "${id}", which is not an input item of this run` });
      continue;
    }
    count.set(id, (count.get(id) ?? 0) + 1);
    items.set(id, v as Item);
  }
  for (const id of inputIds) {
    const n = count.get(id) ?? 0;
    if (n === 1) continue;
    items.delete(id);
    failed.set(id, n === 0 ? [{ item: id, message: `${id} is missing from the output` }, ...stray] : [{ item: id, message: `${id} appears more than once` }]);
  }
  return { items, failed };
}

/** What a validator may know beyond the batch: data derived from earlier seeds (a phase's `context`). */
export interface ValidatorContext {
  /** The words taught before this item (the GATE's vocabulary, without the item's own LEGOs). */
  vocabularyBefore(id: string): Set<string>;
}

export interface ValidatorRequest {
  items: Item[];
  inputItems: Item[];
  context?: ValidatorContext;
  itemIds: string[];
  env: Record<string, string>;
  files: AttemptFiles | null;
  signal: AbortSignal;
}

/**
 * `broken`: the validator itself could not judge (did not start, crashed without printing an error, timed
 * out). Retrying the agent cannot fix that, so the batch fails at once instead of paying for more attempts.
 */
export type ValidatorResult =
  | { kind: 'valid'; warnings?: ValidationError[] }
  | { kind: 'invalid'; errors: ValidationError[] }
  | { kind: 'broken'; message: string }
  | { kind: 'cancelled' };

/** A phase's own check, run after the built-in one. */
export interface Validator {
  validate(req: ValidatorRequest): Promise<ValidatorResult>;
}

/**
 * Reads a validator's report: one error per line. A line may be `ID: message` (or `ID message`) naming an
 * item of the batch, or a JSON object {"id"|"item"|"seedId": ..., "message": ...}.
 */
export function parseErrorLines(text: string, ids: ReadonlySet<string>): ValidationError[] {
  const out: ValidationError[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line) continue;
    if (line.startsWith('{')) {
      try {
        const o = JSON.parse(line) as Record<string, unknown>;
        const id = [o.id, o.item, o.seedId, o.seed_id].find((x) => typeof x === 'string') as string | undefined;
        const message = typeof o.message === 'string' ? o.message : line;
        out.push(id ? { item: id, message } : { message });
        continue;
      } catch {
        // Not JSON after all: plain text.
      }
    }
    const m = /^\[?([^\s:\]]+)\]?:?\s+(.*)$/.exec(line);
    if (m && ids.has(m[1]!)) out.push({ item: m[1]!, message: m[2]! });
    else out.push({ message: line });
  }
  return out;
}

export class CommandValidator implements Validator {
  constructor(
    private readonly command: CommandSpec,
    private readonly cwd: string,
    private readonly timeoutMs: number,
  ) {}

  async validate(req: ValidatorRequest): Promise<ValidatorResult> {
    if (!req.files) throw new Error('a command validator needs the attempt files on disk');
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
    Object.assign(env, req.env, { CF_PIPELINE_DIR: this.cwd });
    const r = await spawnTree({
      command: 'argv' in this.command ? { argv: this.command.argv.map((a) => a.replaceAll(PIPELINE_DIR, this.cwd)) } : this.command,
      cwd: this.cwd,
      env,
      stdin: null,
      stdout: 'capture',
      stderr: 'capture',
      timeoutMs: this.timeoutMs,
      signal: req.signal,
    });
    const ids = new Set(req.itemIds);
    switch (r.kind) {
      case 'exited': {
        if (r.code === 0) return { kind: 'valid' };
        // What the validator printed is text from outside: scrubbed of secrets before it is recorded or shown.
        const errors = parseErrorLines(scrubSecrets(r.stdout), ids);
        if (errors.length > 0) return { kind: 'invalid', errors };
        const detail = stderrDetail(scrubSecrets(r.stderr));
        return { kind: 'broken', message: `validator exited with code ${r.code} without printing an error${detail ? `: ${detail}` : ''}` };
      }
      case 'signalled': {
        const detail = stderrDetail(scrubSecrets(r.stderr));
        return { kind: 'broken', message: `validator was killed by ${r.signal}${detail ? `: ${detail}` : ''}` };
      }
      case 'timeout':
        return { kind: 'broken', message: `validator timed out after ${Math.round(this.timeoutMs / 1000)} s` };
      case 'cancelled':
        return { kind: 'cancelled' };
      case 'spawn-error':
        return { kind: 'broken', message: `validator could not start: ${r.message}` };
    }
  }
}

/** Validators run in order; the first that rejects or breaks decides; warnings accumulate. */
export class CompositeValidator implements Validator {
  constructor(private readonly parts: Validator[]) {}

  async validate(req: ValidatorRequest): Promise<ValidatorResult> {
    const warnings: ValidationError[] = [];
    for (const v of this.parts) {
      const r = await v.validate(req);
      if (r.kind !== 'valid') return r;
      if (r.warnings) warnings.push(...r.warnings);
    }
    return warnings.length ? { kind: 'valid', warnings } : { kind: 'valid' };
  }
}
