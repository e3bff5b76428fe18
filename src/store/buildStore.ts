import type { Hash } from '../util/hash.js';
import type { TargetId } from '../engine/targets.js';
import type { BlobStore } from './blobs.js';
import type { BatchRecord, FailureRecord, ForgetRecord, ItemRecord, MergeRecord } from './records.js';

/** A key's canonical text, computed when asked (only a store that shares it asks, and only on a miss). */
export type KeyMaterial = () => string;

/**
 * Everything the engine reads and writes about builds, and the one way it does. Two kinds of knowledge:
 *
 * - by content (what any machine building the same course can share): a batch or item output built from
 *   exactly these inputs (`findBatch`, `findItem`: asynchronous, as a shared cache answers), and the blobs
 *   holding outputs (`blobs`, verified by their hash on read);
 * - this checkout's journal: per target, its newest run, its failure, each phase's merged output. These are
 *   local facts (what is in this directory's files now), read synchronously.
 *
 * Every record is written through one of the `record…` methods: the place a store versions records (and a
 * shared store publishes them from).
 */
export interface BuildStore {
  readonly blobs: BlobStore;
  /**
   * A validated batch output built from exactly these inputs (under this target or any other). `material`:
   * the key's canonical text (keyText), for a store that shares by content with other machines: it names
   * what it holds by the text's SHA-256, not by the 64-bit key.
   */
  findBatch(key: Hash, material?: KeyMaterial): Promise<BatchRecord | undefined>;
  /** An item output (items: independent) cached under this item key. */
  findItem(key: Hash, material?: KeyMaterial): Promise<ItemRecord | undefined>;
  /** Whether this store took the record from a shared cache since it was opened (not built, nor recorded, here before). */
  taken?(r: BatchRecord): boolean;

  /** The newest successful run of a target (what explanations compare with). */
  lastSuccess(target: TargetId): BatchRecord | undefined;
  /** The target's failure, when its newest record is one. */
  failure(target: TargetId): FailureRecord | undefined;
  /** The phase's merged output as last written. */
  merge(phase: string): MergeRecord | undefined;
  /** The newest cached output of an item of this phase (what item-level explanations compare with). */
  lastItem(phase: string, id: string): ItemRecord | undefined;
  /** Every batch target with a run or a failure recorded. */
  targets(): TargetId[];

  recordBatch(r: BatchRecord): void;
  recordItem(r: ItemRecord): void;
  recordFailure(r: FailureRecord): void;
  recordMerge(r: MergeRecord): void;
  /** cf clean: the target's records (and those of the items named) no longer count. */
  forget(r: ForgetRecord): void;
}

/**
 * A store as a workspace opens it for one command: the BuildStore, and its upkeep. LocalStore is the
 * directory's own; a shared store implements the same (and keeps its blobs when one checkout cleans).
 */
export interface OpenedStore extends BuildStore {
  /** After a build: the store's own upkeep (a local log compacted, blobs no record refers to deleted). */
  finish(): Promise<void>;
  /** cf clean: what no record refers to any more is deleted; how many blobs. */
  collect(): Promise<number>;
  /** How many blobs collect() would delete once these records are forgotten. Changes nothing. */
  uncollected(forgetting?: readonly ForgetRecord[]): Promise<number>;
  /** Changes whenever anyone writes to the store (null: cannot tell): cf watch reopens it then. */
  readonly revision: number | null;
  close(): void;
}
