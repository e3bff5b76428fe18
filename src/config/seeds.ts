import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { UserError } from '../util/errors.js';
import { lineOf } from '../util/fsx.js';
import { hashCanonical, type Hash } from '../util/hash.js';
import { err, ok, type Result } from '../util/result.js';
import type { StatCache } from './statCache.js';

/** One input or output item: a JSON object carrying its id under the pipeline's id field. */
export type Item = Record<string, unknown>;

/**
 * The seeds as the graph needs them: ids and content hashes in seed order. The items themselves are
 * read only when a batch has to run (a no-op build never parses the seeds file when its stat is unchanged).
 */
export interface SeedSet {
  file: string;
  ids: string[];
  hashes: Hash[];
  items(): Promise<Item[]>;
  /** The items at positions [start, end) (a .jsonl file parses only those lines). */
  range(start: number, end: number): Promise<Item[]>;
}

interface Summary {
  idField: string;
  ids: string[];
  hashes: Hash[];
}

/**
 * A Summary as kept in the stat cache: ids one a line and hashes end to end, two strings instead of two
 * arrays of 20,000 (parsed, and collected, on every build that reads the seeds). Ids with a line break
 * in them are kept as an array.
 */
interface PackedSummary {
  idField: string;
  ids: string | string[];
  hashes: string;
}

function packSummary(s: Summary): PackedSummary {
  return { idField: s.idField, ids: s.ids.some((id) => id.includes('\n')) ? s.ids : s.ids.join('\n'), hashes: s.hashes.join('') };
}

function unpackSummary(p: PackedSummary): Summary | undefined {
  const ids = typeof p.ids === 'string' ? (p.ids ? p.ids.split('\n') : []) : p.ids;
  if (typeof p.hashes !== 'string' || p.hashes.length !== ids.length * 16) return undefined;
  const hashes = new Array<Hash>(ids.length);
  for (let i = 0; i < ids.length; i++) hashes[i] = p.hashes.slice(16 * i, 16 * i + 16) as Hash;
  return { idField: p.idField, ids, hashes };
}

/**
 * Item hashes by the item's JSON text: a seeds file edited in one place re-hashes one item, not all of
 * them (cf watch keeps this between rebuilds). Canonical hashing sorts keys, which costs; stringify does not.
 */
const hashMemo = new Map<string, Hash>();

function itemHash(item: Item): Hash {
  const text = JSON.stringify(item);
  let h = hashMemo.get(text);
  if (h === undefined) {
    if (hashMemo.size > 1_000_000) hashMemo.clear();
    hashMemo.set(text, (h = hashCanonical(item)));
  }
  return h;
}

/**
 * The seeds file no longer reads as it did when its hashes were taken: edited during the build, or a
 * save caught half-written. Not an error of any batch: what reads it is decided again by the next build.
 */
export class SeedsChanged extends Error {}

/** .txt seeds are numbered S0001, S0002, …: one seed per non-empty line, numbered in order. */
export function txtSeedId(n: number): string {
  return `S${String(n).padStart(4, '0')}`;
}

/** Start offsets of the top-level elements of a JSON array text (for line numbers in messages). */
function arrayElementOffsets(text: string): number[] {
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

function parseItems(text: string, file: string, idField: string): Result<{ items: Item[]; lines: (i: number) => number }, UserError> {
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

function checkIds(items: Item[], idField: string, file: string, lines: (i: number) => number): Result<string[], UserError> {
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

/** Replaces {target} in every string of a seed (e.g. "I want to speak {target}." → "… Spanish."). */
function substitute(value: unknown, targetName: string): unknown {
  if (typeof value === 'string') return value.replaceAll('{target}', targetName);
  if (Array.isArray(value)) return value.map((v) => substitute(v, targetName));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = substitute(v, targetName);
    return out;
  }
  return value;
}

/**
 * Loads the seeds: their ids and content hashes (cached by the file's stat), and the items on demand.
 * With `targetName`, "{target}" in the seeds reads as that name: items and hashes are the substituted ones.
 */
export async function loadSeeds(
  dir: string,
  rel: string,
  idField: string,
  cache: StatCache,
  targetName: string | null = null,
): Promise<Result<SeedSet, UserError>> {
  const abs = path.resolve(dir, rel);
  const shown = rel;
  const content = await cache.hashFile(abs);
  if (!content) return err({ kind: 'seeds', file: shown, message: 'the seeds file does not exist' });
  // Read once, however many batches ask at the same moment (a build asks for every stale batch's seeds
  // at once): the promise is shared, not only its result.
  let parsed: Item[] | undefined;
  let parsing: Promise<Item[]> | undefined;
  const items = (): Promise<Item[]> => {
    if (parsed) return Promise.resolve(parsed);
    parsing ??= readFile(abs, 'utf8').then((text) => {
      const r = parseItems(text, shown, idField);
      if (!r.ok) throw new SeedsChanged(`${shown} changed while cf was running`);
      parsed = prepare(r.value.items);
      return parsed;
    });
    return parsing;
  };
  const prepare = (raw: Item[]): Item[] => (targetName === null ? raw : raw.map((it) => substitute(it, targetName) as Item));
  let lines: Promise<LineSource | null> | undefined;
  const range = async (start: number, end: number): Promise<Item[]> => {
    if (parsed) return parsed.slice(start, end);
    lines ??= ['.jsonl', '.ndjson'].includes(path.extname(abs).toLowerCase())
      ? readFile(abs, 'utf8').then((t) => {
          const all = elementTexts(t, abs);
          return all && ((a: number, b: number) => all.slice(a, b));
        })
      : Promise.resolve(null);
    const texts = await lines;
    if (!texts) return (await items()).slice(start, end);
    try {
      return prepare(texts(start, end).map((l) => JSON.parse(l) as Item));
    } catch {
      throw new SeedsChanged(`${shown} changed while cf was running`);
    }
  };
  const kind = `seeds2:${idField}:${targetName ?? ''}`;
  const stored = cache.derived<PackedSummary>(abs, kind);
  const cached = stored && unpackSummary(stored);
  if (cached) return ok({ file: shown, ids: cached.ids, hashes: cached.hashes, items, range });

  const text = content.text ?? (await readFile(abs, 'utf8'));
  // An edited file: items whose text did not change keep their id and hash; only the others are parsed.
  const stale = await cache.previousDerived<PackedSummary>(abs, kind);
  const prev = stale && unpackSummary(stale.data);
  const edit: Edit | null = stale && prev ? { text, oldText: stale.snapshot, old: prev, file: abs, idField, prepare } : null;
  const quick = edit ? (jsonlEdit(edit) ?? incremental(edit)) : null;
  if (quick) {
    // The edited file is in memory: the batches that rerun read their seeds from it.
    lines = Promise.resolve(quick.lines);
    cache.setDerived(abs, kind, packSummary({ idField, ids: quick.ids, hashes: quick.hashes }), text);
    return ok({ file: shown, ids: quick.ids, hashes: quick.hashes, items, range });
  }
  const r = parseItems(text, shown, idField);
  if (!r.ok) return r;
  const ids = checkIds(r.value.items, idField, shown, r.value.lines);
  if (!ids.ok) return ids;
  parsed = prepare(r.value.items);
  const hashes = parsed.map(itemHash);
  cache.setDerived(abs, kind, packSummary({ idField, ids: ids.value, hashes }), text);
  return ok({ file: shown, ids: ids.value, hashes, items, range });
}

/** The texts of the items from `start` to `end` (indexes), as in the file. */
type LineSource = (start: number, end: number) => string[];

/** An edited seeds file and what was known of its previous version. */
interface Edit {
  text: string;
  oldText: string;
  old: Summary;
  file: string;
  idField: string;
  prepare: (items: Item[]) => Item[];
}

/** The edited file's ids and hashes, and its items' texts. */
interface Edited {
  ids: string[];
  hashes: Hash[];
  lines: LineSource;
}

/** One item's text parsed: its id and hash, or null when it is not an object with an id (the full parse says why). */
function parseSeedText(t: string, idField: string, prepare: (items: Item[]) => Item[]): { id: string; hash: Hash } | null {
  let item: unknown;
  try {
    item = JSON.parse(t);
  } catch {
    return null;
  }
  if (item === null || typeof item !== 'object' || Array.isArray(item)) return null;
  const id = (item as Item)[idField];
  if (typeof id !== 'string' || id === '') return null;
  return { id, hash: itemHash(prepare([item as Item])[0]!) };
}

/** Where the non-blank lines of a .jsonl text are: [start, end) of each, untrimmed, in one array. */
function lineSpans(text: string): Int32Array {
  let out = new Int32Array(1024);
  let n = 0;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    let blank = text.charCodeAt(start) <= 32;
    for (let i = start + 1; blank && i < end; i++) if (text.charCodeAt(i) > 32) blank = false;
    if (!blank) {
      if (n + 2 > out.length) {
        const bigger = new Int32Array(out.length * 2);
        bigger.set(out);
        out = bigger;
      }
      out[n++] = start;
      out[n++] = end;
    }
    start = end + 1;
  }
  return out.subarray(0, n);
}

/** How many leading characters two texts share (compared a block at a time, then one at a time). */
function commonPrefix(a: string, b: string): number {
  const max = Math.min(a.length, b.length);
  const BLOCK = 4096;
  let i = 0;
  while (i + BLOCK <= max && a.slice(i, i + BLOCK) === b.slice(i, i + BLOCK)) i += BLOCK;
  while (i < max && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

/** How many trailing characters two texts share, at most `max`. */
function commonSuffix(a: string, b: string, max: number): number {
  const BLOCK = 4096;
  let n = 0;
  while (n + BLOCK <= max && a.slice(a.length - n - BLOCK, a.length - n) === b.slice(b.length - n - BLOCK, b.length - n)) n += BLOCK;
  while (n < max && a.charCodeAt(a.length - 1 - n) === b.charCodeAt(b.length - 1 - n)) n++;
  return n;
}

/**
 * A .jsonl seeds file edited in one region (a save in an editor: one seed changed, inserted or deleted):
 * the lines before and after the region are the previous version's, with their ids and hashes; only the
 * lines in it are parsed. Finds the region by comparing the two texts, not by splitting them into 20,000
 * lines each. null: not a .jsonl file, or the edit is not one the previous ids can describe (the line by
 * line comparison, then the full parse, decide).
 */
function jsonlEdit({ text, oldText, old, file, idField, prepare }: Edit): Edited | null {
  const ext = path.extname(file).toLowerCase();
  if (ext !== '.jsonl' && ext !== '.ndjson') return null;
  const now = lineSpans(text);
  const nNow = now.length / 2;
  // The previous text is only compared, never split: its ids and hashes are its lines', in order.
  const nBefore = old.ids.length;
  const p = commonPrefix(oldText, text);
  const q = commonSuffix(oldText, text, Math.min(oldText.length, text.length) - p);
  // Lines wholly inside the shared prefix (their newline too) or suffix (the newline before them too) are
  // the same lines, at the same positions from the start or from the end, in both texts.
  let a = 0;
  while (a < nNow && now[2 * a + 1]! < p) a++;
  let b = 0;
  while (b < nNow - a && now[2 * (nNow - 1 - b)]! - 1 >= text.length - q) b++;
  if (a + b > nBefore) return null;
  const ids = old.ids.slice(0, a);
  const hashes = old.hashes.slice(0, a);
  // Ids kept from the previous version are distinct; a new one must not be one of them (an edit is a few
  // lines: looked up one by one, unless there are many).
  let keptSet: Set<string> | undefined;
  const isKept = (id: string): boolean => {
    if (nNow - b - a > 64) {
      keptSet ??= new Set([...old.ids.slice(0, a), ...old.ids.slice(nBefore - b)]);
      return keptSet.has(id);
    }
    for (let i = 0; i < a; i++) if (old.ids[i] === id) return true;
    for (let i = nBefore - b; i < nBefore; i++) if (old.ids[i] === id) return true;
    return false;
  };
  const seen = new Set<string>();
  for (let i = a; i < nNow - b; i++) {
    const item = parseSeedText(text.slice(now[2 * i]!, now[2 * i + 1]!), idField, prepare);
    if (!item || seen.has(item.id) || isKept(item.id)) return null;
    seen.add(item.id);
    ids.push(item.id);
    hashes.push(item.hash);
  }
  for (let i = nBefore - b; i < nBefore; i++) {
    ids.push(old.ids[i]!);
    hashes.push(old.hashes[i]!);
  }
  // The texts of items, made only for the batches that ask for their seeds (most of a large file is not).
  const lines = (start: number, end: number): string[] => {
    const out: string[] = [];
    for (let i = start; i < Math.min(end, nNow); i++) out.push(text.slice(now[2 * i]!, now[2 * i + 1]!).trim());
    return out;
  };
  return { ids, hashes, lines };
}

/** The non-blank lines of a .jsonl text, trimmed (a line is only copied again when it has spaces to trim). */
function jsonLines(text: string): string[] {
  const spans = lineSpans(text);
  const out: string[] = [];
  for (let i = 0; i < spans.length; i += 2) {
    const l = text.slice(spans[i]!, spans[i + 1]!).trim();
    if (l) out.push(l); // (a line of other white space than ASCII's is blank too)
  }
  return out;
}

/** The texts of a seeds file's items: lines of .jsonl, top-level elements of a .json array (null: other). */
function elementTexts(text: string, file: string): string[] | null {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.jsonl' || ext === '.ndjson') return jsonLines(text);
  if (ext !== '.json') return null; // .txt ids are positions: nothing to carry over
  const end = text.lastIndexOf(']');
  if (!text.trimStart().startsWith('[') || end < 0) return null; // not an array: the full parse says what is wrong
  const starts = arrayElementOffsets(text);
  return starts.map((s, i) => text.slice(s, (starts[i + 1] ?? end + 1) - 1).replace(/[\s,]+$/, ''));
}

/**
 * Ids and hashes of an edited seeds file from the previous version's: an item whose text is unchanged
 * (wherever it moved) keeps its id and hash, the others are parsed and hashed. null: do it the long way
 * (which also reports any error with its line).
 */
function incremental({ text, oldText, old, file, idField, prepare }: Edit): Edited | null {
  const now = elementTexts(text, file);
  const before = elementTexts(oldText, file);
  if (!now || !before || before.length !== old.ids.length) return null;
  let index: Map<string, number> | undefined;
  const ids: string[] = [];
  const hashes: Hash[] = [];
  const seen = new Set<string>();
  // Same length: items edited in place (the common case) need no index of the old texts.
  const inPlace = now.length === before.length;
  for (let i = 0; i < now.length; i++) {
    const t = now[i]!;
    let j: number | undefined = before[i] === t ? i : undefined;
    if (j === undefined && !inPlace) j = (index ??= new Map(before.map((b, k) => [b, k]))).get(t);
    let id: string;
    let hash: Hash;
    if (j !== undefined) {
      id = old.ids[j]!;
      hash = old.hashes[j]!;
    } else {
      const item = parseSeedText(t, idField, prepare);
      if (!item) return null;
      ({ id, hash } = item);
    }
    if (seen.has(id)) return null;
    seen.add(id);
    ids.push(id);
    hashes.push(hash);
  }
  // In place, an edited item that is really a moved one (its id already seen elsewhere) was caught above.
  return { ids, hashes, lines: (start, end) => now.slice(start, end) };
}
