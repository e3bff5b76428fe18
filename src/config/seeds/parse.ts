import path from 'node:path';
import type { UserError } from '../../util/errors.js';
import { lineOf } from '../../util/fsx.js';
import { err, ok, type Result } from '../../util/result.js';
import type { Item } from './item.js';

/*
 * Reading a whole seeds file (.json array, .jsonl, .txt) into items, and checking their ids: every error
 * with the line it is on.
 */

/** .txt seeds are numbered S0001, S0002, …: one seed per non-empty line, numbered in order. */
function txtSeedId(n: number): string {
  return `S${String(n).padStart(4, '0')}`;
}

/** Start offsets of the top-level elements of a JSON array text (for line numbers in messages). */
export function arrayElementOffsets(text: string): number[] {
  const out: number[] = [];
  let depth = 0;
  let inString = false;
  let expectElement = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === ' ' || c === '\n' || c === '\r' || c === '\t') continue;
    if (expectElement && depth === 1) {
      out.push(i);
      expectElement = false;
    }
    if (c === '"') inString = true;
    else if (c === '[' || c === '{') {
      depth++;
      if (depth === 1 && c === '[') expectElement = true;
    } else if (c === ']' || c === '}') depth--;
    else if (c === ',' && depth === 1) expectElement = true;
  }
  return out;
}

export function parseItems(text: string, file: string, idField: string): Result<{ items: Item[]; lines: (i: number) => number }, UserError> {
  const ext = path.extname(file).toLowerCase();
  const fail = (message: string, line?: number, hint?: string): Result<never, UserError> =>
    err({ kind: 'seeds', file, line, message, hint });
  if (ext === '.txt') {
    const items: Item[] = [];
    const lineNos: number[] = [];
    text.split(/\r?\n/).forEach((line, i) => {
      const t = line.trim();
      if (!t) return;
      items.push({ [idField]: txtSeedId(items.length + 1), text: t });
      lineNos.push(i + 1);
    });
    return ok({ items, lines: (i) => lineNos[i] ?? 0 });
  }
  if (ext === '.jsonl' || ext === '.ndjson') {
    const items: Item[] = [];
    const lineNos: number[] = [];
    const lines = text.split(/\r?\n/);
    for (const [i, line] of lines.entries()) {
      if (!line.trim()) continue;
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch (e) {
        return fail(`not valid JSON: ${(e as Error).message}`, i + 1);
      }
      if (v === null || typeof v !== 'object' || Array.isArray(v)) return fail('each line must be a JSON object', i + 1);
      items.push(v as Item);
      lineNos.push(i + 1);
    }
    return ok({ items, lines: (i) => lineNos[i] ?? 0 });
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    const m = /position (\d+)/.exec((e as Error).message);
    return fail(`not valid JSON: ${(e as Error).message}`, m ? lineOf(text, Number(m[1])) : undefined);
  }
  if (!Array.isArray(v)) {
    return fail('expected a JSON array of objects', 1, 'seeds may be a JSON array (.json), one object per line (.jsonl), or one sentence per line (.txt)');
  }
  let offsets: number[] | undefined;
  const lines = (i: number): number => lineOf(text, (offsets ??= arrayElementOffsets(text))[i] ?? 0);
  for (const [i, item] of v.entries()) {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) return fail(`item ${i + 1} is not a JSON object`, lines(i));
  }
  return ok({ items: v as Item[], lines });
}

export function checkIds(items: Item[], idField: string, file: string, lines: (i: number) => number): Result<string[], UserError> {
  const ids: string[] = [];
  const seen = new Map<string, number>();
  for (const [i, item] of items.entries()) {
    const id = item[idField];
    if (typeof id !== 'string' || id === '') {
      const keys = Object.keys(item);
      return err({
        kind: 'seeds',
        file,
        line: lines(i),
        message: `item ${i + 1} has no "${idField}" string`,
        hint: keys.length ? `its keys are ${keys.join(', ')}; set "id:" in pipeline.yaml to the field naming an item` : undefined,
      });
    }
    const first = seen.get(id);
    if (first !== undefined) {
      return err({
        kind: 'seeds',
        file,
        line: lines(i),
        message: `duplicate seed id "${id}" (first at line ${lines(first)})`,
        hint: 'every seed needs its own id',
      });
    }
    seen.set(id, i);
    ids.push(id);
  }
  return ok(ids);
}
