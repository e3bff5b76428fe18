import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { UserError } from '../util/errors.js';
import { writeAtomic } from '../util/fsx.js';
import { err, ok, type Result } from '../util/result.js';
import type { Item } from './seeds/item.js';

/**
 * A reviewer's correction of one generated item, kept apart from generated output in the project
 * (`corrections/PHASE.jsonl`, one a line, meant to be committed): the whole corrected item (`set`), or a
 * value at a JSON pointer inside it (`pointer`, `value`); `base`, the hash of the generated item it was
 * made against (when the item is generated again, the correction still applies and says so); who, when.
 */
export interface Correction {
  id: string;
  set?: Item;
  pointer?: string;
  value?: unknown;
  base: string;
  author: string;
  at: string;
}

export const CORRECTIONS_DIR = 'corrections';

/** A phase's corrections file, relative to the pipeline's directory. */
export function correctionsFile(phase: string): string {
  return `${CORRECTIONS_DIR}/${phase}.jsonl`;
}

const line = z
  .strictObject({
    id: z.string().min(1),
    set: z.record(z.string(), z.unknown()).optional(),
    pointer: z.string().startsWith('/', 'a JSON pointer starts with "/" (the whole item is "set")').optional(),
    value: z.unknown().optional(),
    base: z.string(),
    author: z.string(),
    at: z.string(),
  })
  .refine((c) => (c.set !== undefined) !== (c.pointer !== undefined), 'a correction has either "set" (the whole item) or "pointer" and "value"')
  .refine((c) => c.pointer === undefined || 'value' in c, 'a "pointer" correction needs its "value"');

/** A corrections file's lines, or the first bad one (its line, what is wrong, how to fix it). */
export function parseCorrections(text: string, file: string): Result<Correction[], UserError> {
  const out: Correction[] = [];
  const lines = text.split('\n');
  for (const [i, raw] of lines.entries()) {
    if (!raw.trim()) continue;
    const bad = (message: string): Result<Correction[], UserError> =>
      err({ kind: 'config', file, line: i + 1, message, hint: `each line is {"id", "set": {…}} or {"id", "pointer": "/field", "value": …} with "base", "author", "at"; cf corrections --drop ID removes one` });
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (e) {
      return bad(`not JSON: ${(e as Error).message}`);
    }
    const r = line.safeParse(json);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      return bad(`${issue.path.length ? `${issue.path.join('.')}: ` : ''}${issue.message}`);
    }
    out.push(r.data as Correction);
  }
  return ok(out);
}

export function formatCorrections(list: readonly Correction[]): string {
  return list.map((c) => `${JSON.stringify(c)}\n`).join('');
}

/** Every phase's corrections (a phase without a file has none); a malformed file is a config error. */
export async function loadCorrections(dir: string, phases: readonly string[]): Promise<Result<Map<string, Correction[]>, UserError>> {
  const out = new Map<string, Correction[]>();
  for (const phase of phases) {
    const rel = correctionsFile(phase);
    const text = await readFile(path.resolve(dir, rel), 'utf8').catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? null : Promise.reject(e)));
    if (text === null) continue;
    const parsed = parseCorrections(text, rel);
    if (!parsed.ok) return parsed;
    if (parsed.value.length) out.set(phase, parsed.value);
  }
  return ok(out);
}

/**
 * Rewrites a phase's corrections file (atomically) from what it holds now: `change` gets the current lines
 * (read again, so that a correction saved meanwhile by another cf is kept) and returns the new ones.
 */
export async function updateCorrectionsFile(dir: string, phase: string, change: (now: Correction[]) => Correction[]): Promise<Correction[]> {
  const file = path.resolve(dir, correctionsFile(phase));
  const text = await readFile(file, 'utf8').catch(() => '');
  const now = parseCorrections(text, correctionsFile(phase));
  const next = change(now.ok ? now.value : []);
  await mkdir(path.dirname(file), { recursive: true });
  await writeAtomic(file, formatCorrections(next));
  return next;
}
