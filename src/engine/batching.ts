import { hashString } from '../util/hash.js';

export type Batching = 'positional' | 'stable';

/**
 * Where batches start, as seed positions.
 *
 * positional: batch k holds seeds (k-1)·size+1 … k·size. Simple and predictable, but inserting or
 * deleting a seed shifts every later batch.
 *
 * stable: boundaries chosen by content, like content-defined chunking: a batch ends after a seed whose
 * id hashes to 0 modulo (size − min + 1), once it holds at least min = ⌈size/2⌉ seeds, and at the latest
 * at 2·size seeds. Batches average about `size` seeds, and a boundary depends only on the ids since the
 * last boundary, so inserting, deleting or moving a seed changes the batch it lands in and, now and then,
 * the next one or two until the boundaries line up again (about 1.2 batches per insertion). Batch
 * numbers still count batches in seed order, so they may shift; keys never contain them, so shifted
 * batches are found fresh under their new numbers.
 */
export function batchStarts(ids: readonly string[], size: number, mode: Batching): number[] {
  const starts: number[] = [];
  if (mode === 'positional' || size < 2) {
    for (let i = 0; i < ids.length; i += size) starts.push(i);
    return starts;
  }
  const min = Math.ceil(size / 2);
  const max = 2 * size;
  const modulus = size - min + 1;
  let start = 0;
  for (let i = 0; i < ids.length; i++) {
    if (i === start) starts.push(i);
    const len = i - start + 1;
    if ((len >= min && isBoundary(ids[i]!, modulus)) || len >= max) start = i + 1;
  }
  return starts;
}

function isBoundary(id: string, modulus: number): boolean {
  // The low 32 bits of the id's hash: uniform, and the same on every machine.
  return Number.parseInt(hashString(`cf-batch:${id}`).slice(-8), 16) % modulus === 0;
}
