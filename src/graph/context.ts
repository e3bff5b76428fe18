import { words } from '../rules/ssi/text.js';
import { hash64 } from '../util/hash.js';
import type { Item } from './seeds.js';

/** Per item of a lego_pairs-like phase: its id and the distinct words its LEGO targets teach. */
export type ItemWords = Array<[string, string[]]>;

/** The words an item's LEGOs teach (items of other shapes teach none). */
export function itemWords(items: readonly Item[], idField: string): ItemWords {
  return items.map((it) => {
    const legos = Array.isArray(it.legos) ? (it.legos as Array<{ lego?: { target?: unknown } }>) : [];
    const ws = new Set<string>();
    for (const l of legos) if (typeof l?.lego?.target === 'string') for (const w of words(l.lego.target)) ws.add(w);
    return [String(it[idField]), [...ws]];
  });
}

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

  /** Adds the next seed position's words. */
  push(id: string, ws: readonly string[]): void {
    const pos = this.ids.length;
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

  /** What a key holds: the hash and size of the set of words taught before position `pos`. */
  before(pos: number): { hash: string; words: number } {
    const p = Math.min(pos, this.ids.length);
    return { hash: this.sums[p]!.toString(16).padStart(16, '0'), words: this.counts[p]! };
  }

  wordsBefore(pos: number): Set<string> {
    const out = new Set<string>();
    for (const [w, p] of this.first) if (p < pos) out.add(w);
    return out;
  }

  /** Words first taught at positions [from, to), by the seed that teaches them. */
  taughtBetween(from: number, to: number): Array<[string, string[]]> {
    const by = new Map<number, string[]>();
    for (const [w, p] of this.first) if (p >= from && p < to) by.set(p, [...(by.get(p) ?? []), w]);
    return [...by.entries()].sort((a, b) => a[0] - b[0]).map(([p, ws]) => [this.ids[p]!, ws.sort()]);
  }
}

/** The names of the phases some phase reads as context: their records carry `vocab`. */
export function contextSources(phases: ReadonlyArray<{ context: { vocabulary: string } | null }>): Set<string> {
  return new Set(phases.flatMap((p) => (p.context ? [p.context.vocabulary] : [])));
}

/**
 * A Vocabulary grown batch by batch, in order, from a context phase's batch records (their `vocab`).
 * `extend` returns the first batch it could not add (no record, or a record without `vocab`), or 0.
 */
export class CumulativeVocabulary {
  readonly vocab = new Vocabulary();
  private batches = 0;

  extend(upTo: number, recordOf: (batch: number) => { vocab?: ItemWords } | undefined): number {
    for (let j = this.batches + 1; j <= upTo; j++) {
      const r = recordOf(j);
      if (!r?.vocab) return j;
      for (const [id, ws] of r.vocab) this.vocab.push(id, ws);
      this.batches = j;
    }
    return 0;
  }
}

/** What a batch record of this phase carries for the phases that read it as context. */
export function contextExtras(phases: ReadonlyArray<{ name: string; context: { vocabulary: string } | null }>, phase: string, items: readonly Item[], idField: string): { vocab?: ItemWords } {
  return phases.some((p) => p.context?.vocabulary === phase) ? { vocab: itemWords(items, idField) } : {};
}
