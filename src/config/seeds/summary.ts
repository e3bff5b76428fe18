import type { Hash } from '../../util/hash.js';

/** What the graph needs of a seeds file, kept in the stat cache: its ids and item hashes, in seed order. */
export interface Summary {
  idField: string;
  ids: string[];
  hashes: Hash[];
}

/**
 * A Summary as kept in the stat cache: ids one a line and hashes end to end, two strings instead of two
 * arrays of 20,000 (parsed, and collected, on every build that reads the seeds). Ids with a line break
 * in them are kept as an array.
 */
export interface PackedSummary {
  idField: string;
  ids: string | string[];
  hashes: string;
}

export function packSummary(s: Summary): PackedSummary {
  return { idField: s.idField, ids: s.ids.some((id) => id.includes('\n')) ? s.ids : s.ids.join('\n'), hashes: s.hashes.join('') };
}

export function unpackSummary(p: PackedSummary): Summary | undefined {
  const ids = typeof p.ids === 'string' ? (p.ids ? p.ids.split('\n') : []) : p.ids;
  if (typeof p.hashes !== 'string' || p.hashes.length !== ids.length * 16) return undefined;
  const hashes = new Array<Hash>(ids.length);
  for (let i = 0; i < ids.length; i++) hashes[i] = p.hashes.slice(16 * i, 16 * i + 16) as Hash;
  return { idField: p.idField, ids, hashes };
}
