import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { UserError } from '../../util/errors.js';
import type { Hash } from '../../util/hash.js';
import { err, ok, type Result } from '../../util/result.js';
import type { StatCache } from '../statCache.js';
import { elementTexts, incremental, jsonlEdit, type Edit, type LineSource } from './incremental.js';
import { itemHash, type Item } from './item.js';
import { checkIds, parseItems } from './parse.js';
import { packSummary, unpackSummary, type PackedSummary } from './summary.js';

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

/**
 * The seeds file no longer reads as it did when its hashes were taken: edited during the build, or a
 * save caught half-written. Not an error of any batch: what reads it is decided again by the next build.
 */
export class SeedsChanged extends Error {}

/** How seeds read for a course (a domain's: config/plugins.ts): each item transformed, and a tag naming it for the stat cache. */
export interface SeedTransform {
  tag: string;
  apply(item: Item): Item;
}

/**
 * Loads the seeds: their ids and content hashes (cached by the file's stat), and the items on demand.
 * With `transform` (a course's: registry.ts), the seeds read as it makes them (e.g. "{target}" as the
 * language's name): items and hashes are the transformed ones.
 */
export async function loadSeeds(
  dir: string,
  rel: string,
  idField: string,
  cache: StatCache,
  transform: SeedTransform | null = null,
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
  const prepare = (raw: Item[]): Item[] => (transform === null ? raw : raw.map((it) => transform.apply(it)));
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
  const kind = `seeds2:${idField}:${transform?.tag ?? ''}`;
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
