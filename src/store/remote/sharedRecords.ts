import type { ContextEntries } from '../../config/plugins.js';
import type { FingerprintText, RefsText } from '../../engine/fingerprint.js';
import type { TargetId } from '../../engine/targets.js';
import type { ValidationError } from '../../exec/validate.js';
import type { Hash } from '../../util/hash.js';
import { scrubSecrets } from '../../util/secrets.js';
import type { BatchRecord, ItemRecord } from '../records.js';

/*
 * Records as a shared cache holds them: what any checkout of the same course can take, and nothing that is
 * one machine's. Shared: what the output was built from (the fingerprint: relative paths and hashes), its
 * items' hashes, the output's address (SHA-256, and the xxh64 local stores use), the attempts and time it
 * took, its warnings, the context entries a later phase reads, and where and when it was built (host,
 * time, cf version). Not shared: failures (a machine's bad luck), merged outputs (derived from the
 * batches), hand edits and adoptions (a file on one machine), run directories, and usage: tokens and
 * dollars are the account of the machine that paid them (a checkout that takes a batch paid nothing).
 */

/** The shared records' format: a reader takes no record of a newer one (as if absent). */
export const SHARED_FORMAT = 1;

/** An output in the shared cache: named by the SHA-256 of its text; `xxh64` is its local address. */
export interface BlobRef {
  sha256: string;
  xxh64: Hash;
  bytes: number;
}

export interface Built {
  host: string;
  at: string;
  cf: string;
}

export interface SharedBatch {
  v: number;
  t: 'batch';
  /** Its own name: the SHA-256 of its key's material. */
  name: string;
  target: TargetId;
  fp: FingerprintText;
  items: RefsText;
  out: BlobRef;
  attempts: number;
  ms: number;
  warnings?: ValidationError[];
  vocab?: ContextEntries;
  built: Built;
}

export interface SharedItem {
  v: number;
  t: 'item';
  name: string;
  phase: string;
  id: string;
  hash: Hash;
  input: Hash;
  context?: string;
  /** The output (a batch's) that holds the item. */
  out: BlobRef;
  built: Built;
}

export type SharedRecord = SharedBatch | SharedItem;

/**
 * Whether a record may be published: built here by an agent (or assembled from cached items) and validated.
 * Not one taken from the shared cache (it is there), a hand edit or an adoption (a local file's content).
 */
export function publishable(r: BatchRecord | ItemRecord): boolean {
  return !r.remote && !('adopted' in r && r.adopted) && !('edited' in r && r.edited);
}

/** A validation message with this machine's paths replaced (the checkout, the home directory). */
function withoutPaths(text: string, paths: readonly string[]): string {
  for (const [p, as] of paths.map((x, i) => [x, i === 0 ? '$CF_PIPELINE_DIR' : '~'] as const)) if (p.length > 1) text = text.split(p).join(as);
  return text;
}

/** `paths`: the checkout's directory, then the home directory (replaced in messages). */
export function sharedBatch(r: BatchRecord, name: string, out: BlobRef, built: Built, paths: readonly string[]): SharedBatch {
  return {
    v: SHARED_FORMAT,
    t: 'batch',
    name,
    target: r.target,
    fp: r.fp,
    items: r.items,
    out,
    attempts: r.attempts,
    ms: r.ms,
    ...(r.warnings?.length ? { warnings: r.warnings.map((w) => ({ ...w, message: withoutPaths(w.message, paths) })) } : {}),
    ...(r.vocab ? { vocab: r.vocab } : {}),
    built,
  };
}

export function sharedItem(r: ItemRecord, name: string, out: BlobRef, built: Built): SharedItem {
  return { v: SHARED_FORMAT, t: 'item', name, phase: r.phase, id: r.id, hash: r.hash, input: r.input, ...(r.context ? { context: r.context } : {}), out, built };
}

/** A shared record as it is written: JSON, scrubbed of secrets as every record cf writes is. */
export function sharedText(r: SharedRecord): string {
  return scrubSecrets(JSON.stringify(r));
}

const str = (v: unknown): v is string => typeof v === 'string';
const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function blobRef(v: unknown): v is BlobRef {
  const b = v as BlobRef | null;
  return typeof b === 'object' && b !== null && str(b.sha256) && /^[0-9a-f]{64}$/.test(b.sha256) && str(b.xxh64) && num(b.bytes);
}

/**
 * A shared record read back, checked: what another machine (or a damaged disk) wrote is not trusted.
 * `newer`: a newer cf's format (not taken, not a warning); `malformed`: damaged, or not what its name says.
 */
export function readShared(text: string, kind: 'batch' | 'item', name: string): SharedRecord | 'newer' | 'malformed' {
  let r: Record<string, unknown> | null;
  try {
    r = JSON.parse(text) as Record<string, unknown> | null;
  } catch {
    return 'malformed';
  }
  if (typeof r !== 'object' || r === null || !num(r.v)) return 'malformed';
  if (r.v > SHARED_FORMAT) return 'newer';
  if (r.t !== kind || r.name !== name || !blobRef(r.out)) return 'malformed';
  const built = r.built as Partial<Built> | null | undefined;
  if (typeof built !== 'object' || built === null || !str(built.host) || !str(built.at)) return 'malformed';
  if (kind === 'batch') {
    if (!str(r.target) || !str(r.fp) || !str(r.items) || !num(r.attempts) || !num(r.ms)) return 'malformed';
    if (r.warnings !== undefined && !Array.isArray(r.warnings)) return 'malformed';
    if (r.vocab !== undefined && !Array.isArray(r.vocab)) return 'malformed';
    return r as unknown as SharedBatch;
  }
  if (!str(r.phase) || !str(r.id) || !str(r.hash) || !str(r.input) || (r.context !== undefined && !str(r.context))) return 'malformed';
  return r as unknown as SharedItem;
}

/**
 * A shared batch as this checkout records it under its own key: built when and where it was built (a merged
 * output's time is its newest batch's, the same in every checkout), taken now (`takenAt`).
 */
export function localBatch(s: SharedBatch, key: Hash, takenAt: string): BatchRecord {
  return {
    t: 'batch',
    target: s.target,
    key,
    fp: s.fp,
    out: s.out.xxh64,
    items: s.items,
    attempts: s.attempts,
    ms: s.ms,
    at: s.built.at,
    ...(s.warnings?.length ? { warnings: s.warnings } : {}),
    ...(s.vocab ? { vocab: s.vocab } : {}),
    remote: { host: s.built.host, takenAt },
  };
}

export function localItem(s: SharedItem, key: Hash, takenAt: string): ItemRecord {
  return {
    t: 'item',
    phase: s.phase,
    id: s.id,
    key,
    hash: s.hash,
    out: s.out.xxh64,
    input: s.input,
    ...(s.context ? { context: s.context } : {}),
    at: s.built.at,
    remote: { host: s.built.host, takenAt },
  };
}
