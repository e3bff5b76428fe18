import type { AttemptError, AttemptUsage } from '../exec/attempts.js';
import type { BudgetStop } from '../exec/budget.js';
import type { ValidationError } from '../exec/validate.js';
import type { Hash } from '../util/hash.js';
import type { ContextEntries } from '../config/plugins.js';
import type { Spans } from '../engine/merge.js';
import type { FingerprintText, RefsText } from '../engine/fingerprint.js';
import type { TargetId } from '../engine/targets.js';

/**
 * The records' format: written with every record (`v`); a record of a newer format (a newer cf wrote it) is
 * not read. Records without `v` are of format 1, which this one reads as it is.
 */
export const RECORD_FORMAT = 2;

/**
 * What cf remembers, one JSON object per line of .cf/records.log (append-only, compacted now and then).
 * Records are keyed by content: a batch record says "inputs with key K produced output O (these items)";
 * items carry their own hashes so a later per-item cache or a remote store can address them one by one.
 */
export interface BatchRecord {
  v?: number;
  t: 'batch';
  target: TargetId;
  key: Hash;
  /** What the batch was built from (parsed on demand: parseFingerprint). */
  fp: FingerprintText;
  /** The output blob in .cf/objects (a JSON array of the batch's output items). */
  out: Hash;
  /** Output items: "id<TAB>content hash" lines in order. Downstream keys are built from these. */
  items: RefsText;
  attempts: number;
  ms: number;
  at: string;
  /** Findings of severity "warning" (the first few): they did not reject the output. */
  warnings?: ValidationError[];
  /** Set when the output was adopted from an existing file (`cf adopt`) rather than produced by an agent. */
  adopted?: string;
  /** Tokens and dollars of every attempt (when the runner reports them). */
  usage?: AttemptUsage[];
  /** Set when the output was taken from a hand edit of this merged output file. */
  edited?: string;
  /**
   * For phases another phase reads as context: what the context kind keeps of each output item (the
   * vocabulary: the words it teaches and its LEGOs' keys). Named `vocab` on disk, whatever the kind.
   */
  vocab?: ContextEntries;
  /** Taken from the shared cache, not built here (`at`: when it was built there, as every record says). */
  remote?: RemoteOrigin;
}

/** One output item of an `items: independent` phase, cached under its own key. */
export interface ItemRecord {
  v?: number;
  t: 'item';
  phase: string;
  id: string;
  key: Hash;
  /** The item's content hash, and the blob (a JSON array) that holds it. */
  hash: Hash;
  out: Hash;
  /** What it was built from (for explanations): its input item's hash, its context's hash. */
  input: Hash;
  context?: string;
  at: string;
  /** Taken from the shared cache, not built here. */
  remote?: RemoteOrigin;
}

export interface FailureRecord {
  v?: number;
  t: 'fail';
  target: TargetId;
  key: Hash;
  attempts: number;
  errors: AttemptError[];
  at: string;
  usage?: AttemptUsage[];
  /** Set when --max-cost stopped the batch between attempts (it did not fail on its own): why (older records: a sentence). */
  stopped?: BudgetStop | string;
}

/** The merged output file as last written: its key (the batch outputs it holds) and its stamp on disk. */
export interface MergeRecord {
  v?: number;
  t: 'merge';
  phase: string;
  path: string;
  key: Hash;
  file: FileStamp;
  items: number;
  at: string;
  /** JSON-array merges: where each batch's items are in the file (byte offsets), for the next merge to reuse. */
  byteSpans?: Spans | string;
}

/** Written by `cf clean`: the target's records no longer count. */
export interface ForgetRecord {
  v?: number;
  t: 'forget';
  target: TargetId;
  at: string;
  /** A batch of an items: independent phase: its items, whose cached outputs no longer count either. */
  items?: string[];
}

/** A record taken from a shared cache (sharedStore.ts): the host that built it (its `at`), and when this checkout took it. */
export interface RemoteOrigin {
  host: string;
  takenAt: string;
}

export interface FileStamp {
  hash: Hash;
  size: number;
  mtimeNs: string;
  ino: number;
}

export type StateRecord = BatchRecord | FailureRecord | MergeRecord | ForgetRecord | ItemRecord;
