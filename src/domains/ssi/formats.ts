/**
 * The SSi course documents (see /work/shared/data/ssi/README.md) and cf's per-seed batch items:
 * which kind a document is, how a merged document (or an older variant of it) becomes items, and how items
 * are merged back into the document the rest of the SSi pipeline reads.
 */
import { substituteTarget } from './text.js';
import type { Basket, BasketsItem, CourseInfo, Lego, LegoPairsItem, Pair, SeedPairItem, SsiKind } from './types.js';

export type ReadResult = { ok: true; items: object[]; warnings: string[] } | { ok: false; error: string };

/** An item left out of a lenient read: the seed it belongs to (or where it stands) and what is wrong. */
export interface BadItem {
  seedId: string;
  error: string;
}

/**
 * Reads one item: strictly (bad === null: a FormatError stops the whole read) or leniently (the error is
 * collected and the item left out).
 */
function each<T>(bad: BadItem[] | null, seedId: () => string, read: () => T): T[] {
  if (!bad) return [read()];
  try {
    return [read()];
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
    bad.push({ seedId: seedId(), error: e.message });
    return [];
  }
}

function guessSeedId(v: unknown, fallback: string): string {
  const id = isRecord(v) ? v.seed_id : undefined;
  return typeof id === 'string' && id ? id : fallback;
}

export interface WriteOptions {
  course: CourseInfo;
  /** ISO timestamp written into seed_pairs; passed in so that the same items always give the same bytes. */
  generated: string;
  version?: string;
}

/** A shape problem, thrown deep in a reader and turned into `{ok: false}` at the top. */
class FormatError extends Error {}

type Json = Record<string, unknown>;

function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 39)}…` : v);
  return isRecord(v) ? 'an object' : `${typeof v} ${String(v)}`;
}

function wrong(at: string, expected: string, got: unknown): never {
  throw new FormatError(`${at}: expected ${expected}, got ${describe(got)}`);
}

function readString(v: unknown, at: string): string {
  return typeof v === 'string' ? v : wrong(at, 'a string', v);
}

function readId(v: unknown, at: string): string {
  return typeof v === 'string' && v.trim() !== '' ? v : wrong(at, 'a non-empty id string', v);
}

function readArray(v: unknown, at: string): unknown[] {
  return Array.isArray(v) ? v : wrong(at, 'an array', v);
}

function omit(obj: Json, keys: readonly string[]): Json {
  return Object.fromEntries(Object.entries(obj).filter(([k]) => !keys.includes(k)));
}

/** A pair in either form the pipeline has used: `{known, target}` (current) or `[target, known]` (older files). */
export function readPair(v: unknown, at: string): Pair {
  if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string') {
    return { known: v[1], target: v[0] };
  }
  if (isRecord(v) && typeof v.known === 'string' && typeof v.target === 'string') return { known: v.known, target: v.target };
  return wrong(at, '{"known", "target"} strings or a [target, known] array', v);
}

/** `S0010L02` → `S0010`: a LEGO id is its seed's id, "L" and a number. */
export function seedOfLego(legoId: string): string | null {
  const m = /^(.+)L\d+$/.exec(legoId);
  return m?.[1] ?? null;
}

// ---------------------------------------------------------------------------------------------- detection

function kindOfItem(item: unknown): SsiKind | null {
  if (!isRecord(item)) return null;
  if ('legos' in item) return 'lego_pairs';
  if ('baskets' in item) return 'lego_baskets';
  if ('known' in item && 'target' in item) return 'seed_pairs';
  return null;
}

/** Which kind a parsed document is, from its content (file names are not trusted: batches have none). */
export function detectKind(doc: unknown): SsiKind | null {
  if (Array.isArray(doc)) return kindOfItem(doc[0]);
  if (!isRecord(doc)) return null;
  if ('translations' in doc) return 'seed_pairs';
  if (Array.isArray(doc.seeds) && (doc.seeds.length === 0 || kindOfItem(doc.seeds[0]) === 'lego_pairs')) return 'lego_pairs';
  if ('baskets' in doc) return 'lego_baskets';
  // One per-seed upload record (spa_for_eng_test/seeds/S0001.json) is a one-seed lego_pairs document.
  if ('seed_id' in doc && 'legos' in doc) return 'lego_pairs';
  return null;
}

// ---------------------------------------------------------------------------------------------- seed_pairs

function readSeedPairItem(v: unknown, at: string): SeedPairItem {
  if (!isRecord(v)) return wrong(at, 'a {"seed_id", "known", "target"} object', v);
  const seed_id = readId(v.seed_id, `${at}.seed_id`);
  const { known, target } = readPair(v, at);
  return { seed_id, known, target, ...omit(v, ['seed_id', 'known', 'target']) };
}

function readSeedPairs(doc: unknown, bad: BadItem[] | null): SeedPairItem[] {
  if (Array.isArray(doc)) return doc.flatMap((v, i) => each(bad, () => guessSeedId(v, `[${i}]`), () => readSeedPairItem(v, `[${i}]`)));
  if (!isRecord(doc) || !isRecord(doc.translations)) return wrong('seed_pairs', 'an object with a "translations" map', doc);
  // Values may mix the two pair forms within one file.
  return Object.entries(doc.translations).flatMap(([id, v]) => each(bad, () => id, () => ({ seed_id: id, ...readPair(v, `translations.${id}`) })));
}

// ---------------------------------------------------------------------------------------------- lego_pairs

/** Per-seed fields that record how a batch was produced, not what it says. */
const BOOKKEEPING = ['agentId', 'receivedAt'];
const SEED_KEYS = ['seed_id', 'seed_pair', 'legos'];
/** `new` is dropped on reading: it depends on every earlier seed, so only a merge can know it. */
const LEGO_KEYS = ['id', 'type', 'new', 'lego', 'components'];

function readComponents(v: unknown, at: string): Array<Pair | string> {
  // Current files gloss each component ({known, target}); APML v9 files list target words only.
  return readArray(v, at).map((c, i) => (typeof c === 'string' ? c : readPair(c, `${at}[${i}]`)));
}

function readLego(v: unknown, at: string): Lego {
  if (!isRecord(v)) return wrong(at, 'a LEGO object {"id", "type", "lego", ...}', v);
  const lego: Lego = {
    id: readId(v.id, `${at}.id`),
    type: readString(v.type, `${at}.type`),
    lego: readPair(v.lego, `${at}.lego`),
  };
  if (v.components !== undefined) lego.components = readComponents(v.components, `${at}.components`);
  return { ...lego, ...omit(v, LEGO_KEYS) };
}

function readLegoSeed(v: unknown, at: string, dropped: Map<string, number>): LegoPairsItem {
  if (!isRecord(v)) return wrong(at, 'a seed object {"seed_id", "seed_pair", "legos"}', v);
  const seed_id = readId(v.seed_id, `${at}.seed_id`);
  const where = `${at} (${seed_id})`;
  const seed_pair = readPair(v.seed_pair, `${where}.seed_pair`);
  const legos = readArray(v.legos, `${where}.legos`).map((l, j) => readLego(l, `${where}.legos[${j}]`));
  for (const key of Object.keys(v)) {
    if (!SEED_KEYS.includes(key) && !BOOKKEEPING.includes(key)) dropped.set(key, (dropped.get(key) ?? 0) + 1);
  }
  return { seed_id, seed_pair, legos };
}

function legoSeedsOf(doc: unknown, warnings: string[]): { seeds: unknown[]; at: string } {
  if (Array.isArray(doc)) return { seeds: doc, at: '' };
  if (!isRecord(doc)) return wrong('lego_pairs', 'an object with a "seeds" array', doc);
  if (Array.isArray(doc.seeds)) {
    const up = doc.upchunked_mtypes;
    if (Array.isArray(up) && up.length > 0) {
      warnings.push(`ignored upchunked_mtypes: ${up.length} conflict-resolution LEGOs that belong to no seed (APML v9)`);
    }
    return { seeds: doc.seeds, at: 'seeds' };
  }
  if ('seed_id' in doc && 'legos' in doc) return { seeds: [doc], at: '' };
  return wrong('lego_pairs', 'an object with a "seeds" array', doc.seeds);
}

function readLegoPairs(doc: unknown, warnings: string[], bad: BadItem[] | null): LegoPairsItem[] {
  const { seeds, at } = legoSeedsOf(doc, warnings);
  const dropped = new Map<string, number>();
  const items = seeds.flatMap((s, i) => each(bad, () => guessSeedId(s, `${at}[${i}]`), () => readLegoSeed(s, `${at}[${i}]`, dropped)));
  for (const [key, n] of dropped) warnings.push(`dropped the per-seed field "${key}" (${n} seed${n === 1 ? '' : 's'})`);
  return items;
}

// ---------------------------------------------------------------------------------------------- lego_baskets

const BASKET_KEYS = ['lego', 'is_final_lego', 'practice_phrases', 'phrase_count'];

function readBasket(v: unknown, at: string): Basket {
  if (!isRecord(v)) return wrong(at, 'a basket object {"lego", "is_final_lego", "practice_phrases", "phrase_count"}', v);
  const lego = readPair(v.lego, `${at}.lego`);
  const is_final_lego = typeof v.is_final_lego === 'boolean' ? v.is_final_lego : wrong(`${at}.is_final_lego`, 'true or false', v.is_final_lego);
  const practice_phrases = readArray(v.practice_phrases, `${at}.practice_phrases`).map((p, i) => readPair(p, `${at}.practice_phrases[${i}]`));
  const phrase_count = Number.isInteger(v.phrase_count) ? (v.phrase_count as number) : wrong(`${at}.phrase_count`, 'a whole number', v.phrase_count);
  return { lego, is_final_lego, practice_phrases, phrase_count, ...omit(v, BASKET_KEYS) };
}

function readBasketMap(v: unknown, at: string, bad: BadItem[] | null = null): Record<string, Basket> {
  if (!isRecord(v)) return wrong(at, 'a map from LEGO id to basket', v);
  return Object.fromEntries(
    Object.entries(v).flatMap(([id, b]) => each(bad, () => seedOfLego(id) ?? `${at}.${id}`, (): [string, Basket] => [id, readBasket(b, `${at}.${id}`)])),
  );
}

function readBasketsItem(v: unknown, at: string): BasketsItem {
  if (!isRecord(v)) return wrong(at, 'a {"seed_id", "baskets"} object', v);
  const seed_id = readId(v.seed_id, `${at}.seed_id`);
  return { seed_id, baskets: readBasketMap(v.baskets, `${at} (${seed_id}).baskets`), ...omit(v, ['seed_id', 'baskets']) };
}

/** The merged document keys baskets by LEGO id; items group them by seed, seeds in order of first appearance. */
function groupBySeed(baskets: Record<string, Basket>): BasketsItem[] {
  const bySeed = new Map<string, Record<string, Basket>>();
  for (const [id, basket] of Object.entries(baskets)) {
    const seed = seedOfLego(id) ?? wrong(`baskets.${id}`, 'a key that is a LEGO id like S0010L02', id);
    const group = bySeed.get(seed) ?? {};
    group[id] = basket;
    bySeed.set(seed, group);
  }
  return [...bySeed].map(([seed_id, group]) => ({ seed_id, baskets: group }));
}

function readLegoBaskets(doc: unknown, bad: BadItem[] | null): BasketsItem[] {
  if (Array.isArray(doc)) return doc.flatMap((v, i) => each(bad, () => guessSeedId(v, `[${i}]`), () => readBasketsItem(v, `[${i}]`)));
  if (!isRecord(doc) || !('baskets' in doc)) return wrong('lego_baskets', 'an object with a "baskets" map', doc);
  return groupBySeed(readBasketMap(doc.baskets, 'baskets', bad));
}

// ---------------------------------------------------------------------------------------------- reading

/**
 * A merged document (or a plain JSON array of items, or one per-seed record) → per-seed batch items in
 * document order. Errors name the part of the document that is wrong, e.g. `seeds[3] (S0004).legos[1].lego: ...`.
 */
export function readDocument(kind: SsiKind, doc: unknown): ReadResult {
  return read(kind, doc, null);
}

/**
 * readDocument that reads past malformed items: they are left out and listed in `bad` (for `cf check`, which
 * reports them under its "shape" rule and checks the rest). The container itself must still be right.
 */
export function readDocumentLenient(kind: SsiKind, doc: unknown): (ReadResult & { ok: true; bad: BadItem[] }) | (ReadResult & { ok: false }) {
  const bad: BadItem[] = [];
  const r = read(kind, doc, bad);
  return r.ok ? { ...r, bad } : r;
}

function read(kind: SsiKind, doc: unknown, bad: BadItem[] | null): ReadResult {
  const warnings: string[] = [];
  try {
    const items: object[] =
      kind === 'seed_pairs' ? readSeedPairs(doc, bad) : kind === 'lego_pairs' ? readLegoPairs(doc, warnings, bad) : readLegoBaskets(doc, bad);
    return { ok: true, items, warnings };
  } catch (e) {
    if (e instanceof FormatError) return { ok: false, error: e.message };
    throw e;
  }
}

/**
 * One batch item checked and normalised the way readDocument does it (pairs as `{known, target}`, `new` and
 * per-seed bookkeeping dropped): the rules run on what a batch holds, which nothing else has shape-checked.
 */
export function readItem(kind: SsiKind, v: unknown, at: string): { ok: true; item: object } | { ok: false; error: string } {
  try {
    const item: object =
      kind === 'seed_pairs' ? readSeedPairItem(v, at) : kind === 'lego_pairs' ? readLegoSeed(v, at, new Map()) : readBasketsItem(v, at);
    return { ok: true, item };
  } catch (e) {
    if (e instanceof FormatError) return { ok: false, error: e.message };
    throw e;
  }
}

/** canonical_seeds.json → seed id → the expected known text, with {target} replaced by the language name. */
export function readCanonical(doc: unknown, targetName: string): { ok: true; canonical: Map<string, string> } | { ok: false; error: string } {
  try {
    const entries = readArray(doc, 'canonical_seeds').map((v, i): [string, string] => {
      if (!isRecord(v)) return wrong(`canonical_seeds[${i}]`, 'a {"seed_id", "source"} object', v);
      return [readId(v.seed_id, `canonical_seeds[${i}].seed_id`), substituteTarget(readString(v.source, `canonical_seeds[${i}].source`), targetName)];
    });
    return { ok: true, canonical: new Map(entries) };
  } catch (e) {
    if (e instanceof FormatError) return { ok: false, error: e.message };
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------- writing

function pair(p: Pair): Pair {
  return { known: p.known, target: p.target };
}

function writeSeedPairs(items: readonly SeedPairItem[], opts: WriteOptions): object {
  const translations: Record<string, Pair> = {};
  for (const item of items) translations[item.seed_id] = pair(item);
  return {
    version: opts.version ?? '7.7.0',
    course: opts.course.code,
    target_language: opts.course.targetLanguage,
    known_language: opts.course.knownLanguage,
    generated: opts.generated,
    total_seeds: Object.keys(translations).length,
    translations,
  };
}

/**
 * `new` = the first occurrence, in seed order, of the LEGO's (known, target) pair compared lower-cased and
 * trimmed ("But"/"Pero" is the same LEGO as "but"/"pero"). On the real spa_for_eng course this agrees with
 * the original flags for 2,764 of 2,796 LEGOs. Of the other 32, 24 are case-only repeats the original marked
 * new (an exact, case-sensitive comparison agrees on 2,788), and 8 are marked not new although nothing
 * earlier has that pair (e.g. S0643L01 "sir"/"señor", S0236L02 "someone who"/"alguien que").
 */
export function legoKey(lego: Pair): string {
  return `${lego.known.trim().toLowerCase()}\u0000${lego.target.trim().toLowerCase()}`;
}

function writeLego(lego: Lego, seen: Set<string>): Lego {
  const key = legoKey(lego.lego);
  const out: Lego = { id: lego.id, type: lego.type, new: !seen.has(key), lego: pair(lego.lego) };
  seen.add(key);
  if (lego.components !== undefined) out.components = lego.components.map((c) => (typeof c === 'string' ? c : pair(c)));
  return { ...out, ...omit(lego, LEGO_KEYS) };
}

function writeLegoPairs(items: readonly LegoPairsItem[], opts: WriteOptions): object {
  const seen = new Set<string>();
  const seeds = items.map((item) => ({
    seed_id: item.seed_id,
    seed_pair: pair(item.seed_pair),
    legos: item.legos.map((l) => writeLego(l, seen)),
  }));
  return {
    course: opts.course.code,
    version: opts.version ?? '8.1.1',
    total_seeds: seeds.length,
    total_legos: seeds.reduce((n, s) => n + s.legos.length, 0),
    seeds,
  };
}

function writeBasket(b: Basket): Basket {
  return {
    lego: pair(b.lego),
    is_final_lego: b.is_final_lego,
    practice_phrases: b.practice_phrases.map(pair),
    // Bookkeeping, so computed like the totals; the phrase_count rule has already compared it in the batch.
    phrase_count: b.practice_phrases.length,
    ...omit(b, BASKET_KEYS),
  };
}

function writeLegoBaskets(items: readonly BasketsItem[], opts: WriteOptions): object {
  const baskets: Record<string, Basket> = {};
  for (const item of items) for (const [id, b] of Object.entries(item.baskets)) baskets[id] = writeBasket(b);
  return { course: opts.course.code, total_baskets: Object.keys(baskets).length, baskets };
}

/** Items (as readDocument gives them, or as validated batches hold them) → the merged document. Deterministic. */
export function writeDocument(kind: SsiKind, items: readonly object[], opts: WriteOptions): object {
  if (kind === 'seed_pairs') return writeSeedPairs(items as SeedPairItem[], opts);
  if (kind === 'lego_pairs') return writeLegoPairs(items as LegoPairsItem[], opts);
  return writeLegoBaskets(items as BasketsItem[], opts);
}
