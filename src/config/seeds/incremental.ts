import path from 'node:path';
import type { Hash } from '../../util/hash.js';
import { itemHash, type Item } from './item.js';
import { arrayElementOffsets } from './parse.js';
import type { Summary } from './summary.js';

/*
 * An edited seeds file read from its previous version: the items whose text did not change keep their
 * ids and hashes, only the others are parsed. A one-seed edit of a 20,000-seed file re-hashes one seed.
 */

/** The texts of the items from `start` to `end` (indexes), as in the file. */
export type LineSource = (start: number, end: number) => string[];

/** An edited seeds file and what was known of its previous version. */
export interface Edit {
  text: string;
  oldText: string;
  old: Summary;
  file: string;
  idField: string;
  prepare: (items: Item[]) => Item[];
}

/** The edited file's ids and hashes, and its items' texts. */
export interface Edited {
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
export function jsonlEdit({ text, oldText, old, file, idField, prepare }: Edit): Edited | null {
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
export function elementTexts(text: string, file: string): string[] | null {
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
export function incremental({ text, oldText, old, file, idField, prepare }: Edit): Edited | null {
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
