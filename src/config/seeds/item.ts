import { hashCanonical, type Hash } from '../../util/hash.js';

/** One input or output item: a JSON object carrying its id under the pipeline's id field. */
export type Item = Record<string, unknown>;

/**
 * Item hashes by the item's JSON text: a seeds file edited in one place re-hashes one item, not all of
 * them (cf watch keeps this between rebuilds). Canonical hashing sorts keys, which costs; stringify does not.
 */
const hashMemo = new Map<string, Hash>();

export function itemHash(item: Item): Hash {
  const text = JSON.stringify(item);
  let h = hashMemo.get(text);
  if (h === undefined) {
    if (hashMemo.size > 1_000_000) hashMemo.clear();
    hashMemo.set(text, (h = hashCanonical(item)));
  }
  return h;
}
