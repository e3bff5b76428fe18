import { isUtf8 } from 'node:buffer';
import xxhash from 'xxhash-wasm';

/** A content hash: 16 lower-case hex digits of xxh64. Branded so it is never confused with other strings. */
export type Hash = string & { readonly __brand: 'Hash' };

type Hasher = Awaited<ReturnType<typeof xxhash>>;
let hasher: Hasher | undefined;

/** Must be awaited once before any hashing (WebAssembly instantiation). */
export async function initHashing(): Promise<void> {
  hasher ??= await xxhash();
}

function h(): Hasher {
  if (!hasher) throw new Error('initHashing() was not awaited');
  return hasher;
}

export function hashString(text: string): Hash {
  return h().h64ToString(text) as Hash;
}

/** xxh64 as a number (for sums: an order-free hash of a set is the sum of its members' hashes). */
export function hash64(text: string): bigint {
  return h().h64(text);
}

/**
 * A file's content hash: the hash of its text's UTF-8 bytes, which are the file's own bytes when it is
 * valid UTF-8 (hashed as they are, no re-encoding); a file that is not is hashed as Node decodes it.
 */
export function hashFileContent(bytes: Buffer): Hash {
  return isUtf8(bytes) ? hashBytes(bytes) : hashString(bytes.toString('utf8'));
}

export function hashBytes(bytes: Uint8Array): Hash {
  return h().h64Raw(bytes).toString(16).padStart(16, '0') as Hash;
}

/** hashBytes of everything given to `update`, in order, without keeping it. */
export function streamingHash(): { update(bytes: Uint8Array): void; digest(): Hash } {
  const s = h().create64();
  return {
    update: (bytes) => void s.update(bytes),
    digest: () => s.digest().toString(16).padStart(16, '0') as Hash,
  };
}

/** hashBytes of the parts joined, without joining them. */
export function hashParts(parts: readonly Uint8Array[]): Hash {
  const s = h().create64();
  for (const p of parts) s.update(p);
  return s.digest().toString(16).padStart(16, '0') as Hash;
}

/**
 * Canonical JSON: object keys sorted by UTF-16 code unit at every depth, no whitespace.
 * Two values that mean the same JSON produce the same text, whatever key order they were written in.
 */
export function canonicalJson(value: unknown): string {
  // Most values (seeds as users write them, cf's own objects) already have their keys in order: then the
  // canonical text is what the native JSON.stringify writes, much faster than building it here.
  if (isOrdered(value)) return JSON.stringify(value) ?? 'null';
  return canonicalSlow(value);
}

/** True when every object inside has its keys sorted and no undefined values (JSON.stringify is canonical). */
function isOrdered(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return value !== undefined;
  if (Array.isArray(value)) {
    for (const v of value) if (v === undefined || (typeof v === 'object' && v !== null && !isOrdered(v))) return false;
    return true;
  }
  let prev: string | undefined;
  const obj = value as Record<string, unknown>;
  for (const k in obj) {
    if (prev !== undefined && !(prev < k)) return false;
    const v = obj[k];
    if (v === undefined || (typeof v === 'object' && v !== null && !isOrdered(v))) return false;
    prev = k;
  }
  return true;
}

function canonicalSlow(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    const s = JSON.stringify(value);
    return s === undefined ? 'null' : s;
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

export function hashCanonical(value: unknown): Hash {
  return hashString(canonicalJson(value));
}
