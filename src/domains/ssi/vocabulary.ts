import { legoKey } from './formats.js';
import { words } from './text.js';
import { hash64 } from '../../util/hash.js';
import type { ContextEntries, ContextKind, ContextState } from '../../config/plugins.js';
import type { Item } from '../../config/seeds.js';
import type { ContextSpec } from '../../exec/executor.js';

/**
 * Per item of a lego_pairs-like phase: its id, the distinct words its LEGO targets teach, and the key of
 * each of its LEGOs in order (lower-cased known and target, as the merge compares them for `new`).
 * Records written before LEGO keys were kept have two elements: they are indexed again from their output.
 */
export type ItemWords = Array<[string, string[], string[]?]>;

type LegoLike = { lego?: { known?: unknown; target?: unknown } };

/** The words an item's LEGOs teach and their keys (items of other shapes teach none). */
export function itemWords(items: readonly Item[], idField: string): ItemWords {
  return items.map((it) => {
    const legos = Array.isArray(it.legos) ? (it.legos as LegoLike[]) : [];
    const ws = new Set<string>();
    const keys: string[] = [];
    for (const l of legos) {
      if (typeof l?.lego?.target !== 'string') continue;
      for (const w of words(l.lego.target)) ws.add(w);
      if (typeof l.lego.known === 'string') keys.push(legoKey({ known: l.lego.known, target: l.lego.target }));
    }
    return [String(it[idField]), [...ws], keys];
  });
}

/** True when a record's vocabulary predates LEGO keys (it must be indexed again). */
export const lacksLegoKeys = (vocab: ItemWords): boolean => vocab.some((e) => e[2] === undefined);

const MASK = (1n << 64n) - 1n;

/**
 * The cumulative vocabulary of a course, seed by seed: which words are taught before a given seed
 * position, with an order-free hash of that set (the sum of its words' hashes), so that a key can carry
 * "the vocabulary before this item" and change only when that set changes: an edit that teaches no new
 * word leaves every later key alone.
 */
export class Vocabulary {
  private readonly first = new Map<string, number>();
  private readonly sums: bigint[] = [0n];
  private readonly counts: number[] = [0];
  private readonly ids: string[] = [];
  /** LEGO key → the position that first teaches it; per position, its LEGOs' `new` flags ("10110"). */
  private readonly firstLego = new Map<string, number>();
  private readonly flags: string[] = [];

  /** Adds the next seed position's words (and its LEGOs' keys, in order). */
  push(id: string, ws: readonly string[], legoKeys: readonly string[] = []): void {
    const pos = this.ids.length;
    let flags = '';
    for (const k of legoKeys) {
      const isNew = !this.firstLego.has(k);
      if (isNew) this.firstLego.set(k, pos);
      flags += isNew ? '1' : '0';
    }
    this.flags.push(flags);
    let sum = this.sums[pos]!;
    let count = this.counts[pos]!;
    for (const w of ws) {
      if (this.first.has(w)) continue;
      this.first.set(w, pos);
      sum = (sum + hash64(w)) & MASK;
      count++;
    }
    this.ids.push(id);
    this.sums.push(sum);
    this.counts.push(count);
  }

  get length(): number {
    return this.ids.length;
  }

  /**
   * What a key holds: the hash and size of the set of words taught before position `pos`, and `withFlags`
   * (for a phase whose input items are this phase's, which carry them) the `new` flags of the LEGOs at `pos`:
   * an edit that makes a LEGO of seed N new, or no longer new, changes seed N's key only.
   */
  before(pos: number, withFlags = false): { hash: string; words: number } {
    const p = Math.min(pos, this.ids.length);
    const flags = withFlags ? this.flags[p] : undefined;
    // Flags only when a LEGO there is not new: the usual all-new item keeps the key it had without them.
    return { hash: `${this.sums[p]!.toString(16).padStart(16, '0')}${flags?.includes('0') ? `/${flags}` : ''}`, words: this.counts[p]! };
  }

  /** The `new` flag of each LEGO of the item at `pos`, in order ('' when it has none or is not added yet). */
  newFlags(pos: number): string {
    return this.flags[pos] ?? '';
  }

  wordsBefore(pos: number): Set<string> {
    const out = new Set<string>();
    for (const [w, p] of this.first) if (p < pos) out.add(w);
    return out;
  }

  /** Words first taught at positions [from, to), by position. */
  taughtAt(from: number, to: number): Array<[number, string[]]> {
    const by = new Map<number, string[]>();
    for (const [w, p] of this.first) if (p >= from && p < to) by.set(p, [...(by.get(p) ?? []), w]);
    return [...by.entries()].sort((a, b) => a[0] - b[0]);
  }

  /** Words first taught at positions [from, to), by the seed that teaches them. */
  taughtBetween(from: number, to: number): Array<[string, string[]]> {
    const by = new Map<number, string[]>();
    for (const [w, p] of this.first) if (p >= from && p < to) by.set(p, [...(by.get(p) ?? []), w]);
    return [...by.entries()].sort((a, b) => a[0] - b[0]).map(([p, ws]) => [this.ids[p]!, ws.sort()]);
  }
}

/** The vocabulary context's cumulative state: the Vocabulary of the positions added so far. */
class VocabularyState implements ContextState {
  readonly vocab = new Vocabulary();

  add(entries: ContextEntries): void {
    for (const [id, ws, keys] of entries as ItemWords) this.vocab.push(id, ws, keys);
  }

  at(position: number, readsItems: boolean): { hash: string; words: number } {
    return this.vocab.before(position, readsItems);
  }

  /**
   * A job's prompt section (the words taught before the first of its items, and those taught later on, by the
   * seed that teaches them) and the vocabulary its validator (the GATE) may use before each item.
   */
  spec(o: { phase: string; ids: readonly string[]; positions: readonly number[]; seedIds: readonly string[] }): ContextSpec {
    const v = this.vocab;
    const first = Math.min(...o.positions);
    const last = Math.max(...o.positions);
    const before = [...v.wordsBefore(first)].sort();
    const between = v.taughtBetween(first, last);
    let prompt = `## Context: vocabulary (from ${o.phase})\n\nWords taught before ${o.seedIds[first]} (${before.length}): ${before.join(', ')}\n`;
    if (between.length) {
      prompt += `\nWords taught later, usable from the seed named on (by it and every later item):\n${between.map(([id, ws]) => `- ${id}: ${ws.join(', ')}`).join('\n')}\n`;
    }
    return { prompt, vocabulary: { before, taught: v.taughtAt(first, last), positions: Object.fromEntries(o.ids.map((id, i) => [id, o.positions[i]!])) } };
  }

  /**
   * A phase reading the lego_pairs-like phase it has as context gets each LEGO's `new` set as the merge sets
   * it (first taught by this seed, in seed order), not as the upstream agent guessed it; the flags are part
   * of the item's context (`at`, readsItems), hence its key.
   */
  asInput(item: Item, position: number): Item {
    if (!Array.isArray(item.legos)) return item;
    const flags = this.vocab.newFlags(position);
    let k = 0;
    const legos = (item.legos as unknown[]).map((l) => {
      const lego = l as LegoLike | null;
      if (typeof lego?.lego?.known !== 'string' || typeof lego.lego.target !== 'string') return l;
      return { ...(l as object), new: flags[k++] !== '0' };
    });
    return { ...item, legos };
  }
}

/**
 * `context: {vocabulary: lego_pairs}`: the words of the LEGO targets of the named phase, over every seed
 * before the item. Its batch records keep each item's words and LEGO keys (ItemWords).
 */
export const vocabularyContext: ContextKind = {
  name: 'vocabulary',
  index: (items, idField) => itemWords(items, idField),
  stale: (entries) => !entries || lacksLegoKeys(entries as ItemWords),
  create: () => new VocabularyState(),
};
