import { createHash } from 'node:crypto';

/*
 * How a shared cache names what it holds. Every name is a SHA-256: of a key's canonical material for a
 * record (the text whose xxh64 is the local key: fingerprint.ts, keyText), of its text for a blob. A
 * 64-bit hash is a fine local index, but a bucket many machines write to must not be poisoned by a
 * collision: there, what names an object is cryptographic.
 *
 *   cf/v1/batch/ab/ab12….json   a batch's record (sharedRecords.ts)
 *   cf/v1/item/cd/cd34….json    an item's record (items: independent)
 *   cf/v1/blob/ef/ef56….json    an output (a JSON array of items), named by the SHA-256 of its text
 */

/** The layout's version: a cf that stores records another way uses another root. */
export const REMOTE_ROOT = 'cf/v1/';

export type ObjectKind = 'batch' | 'item' | 'blob';

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function objectName(kind: ObjectKind, sha: string): string {
  return `${REMOTE_ROOT}${kind}/${sha.slice(0, 2)}/${sha}.json`;
}

/** The kind of a stored object, from its name (null: not one of cf's, e.g. a temporary file). */
export function kindOf(name: string): ObjectKind | null {
  const m = /^cf\/v1\/(batch|item|blob)\/[0-9a-f]{2}\/[0-9a-f]{64}\.json$/.exec(name);
  return m ? (m[1] as ObjectKind) : null;
}
