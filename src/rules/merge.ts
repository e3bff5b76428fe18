import type { Item } from '../graph/seeds.js';

/**
 * A phase's merged output: its batches' output items concatenated in seed order, as one JSON array.
 * Always recomputed from the batch outputs, never appended to, so a rerun can never duplicate an item.
 */
export function mergeBatches(batches: Item[][]): { text: string; items: number } {
  const all: Item[] = [];
  for (const b of batches) for (const it of b) all.push(it);
  return { text: `${JSON.stringify(all, null, 2)}\n`, items: all.length };
}
