import { mark } from '../util/timing.js';
import type { Hash } from '../util/hash.js';
import type { TargetId } from '../engine/targets.js';
import { DiskBlobStore, MemoryBlobStore, type OwnBlobStore } from './blobs.js';
import type { OpenedStore } from './buildStore.js';
import { storeLayout } from './layout.js';
import type { BatchRecord, FailureRecord, ForgetRecord, ItemRecord, MergeRecord } from './records.js';
import { openState, State } from './state.js';

/**
 * The store of one checkout: its record log (State: indexed in memory, history read on a miss) and its
 * own blobs (.cf/objects, or memory). It alone compacts its log and deletes blobs no record refers to:
 * a shared store is never garbage-collected from here.
 */
export class LocalStore implements OpenedStore {
  constructor(
    readonly state: State,
    readonly blobs: OwnBlobStore,
  ) {}

  /** The store of a pipeline directory (`readOnly`: status, explain, dry runs; it writes nothing). */
  static async open(dir: string, opts: { readOnly: boolean }): Promise<LocalStore> {
    return new LocalStore(await openState(dir, opts), new DiskBlobStore(storeLayout(dir).objects));
  }

  /** A store in memory (tests, and in-memory workspaces). */
  static memory(): LocalStore {
    return new LocalStore(new State(null), new MemoryBlobStore());
  }

  async findBatch(key: Hash): Promise<BatchRecord | undefined> {
    return this.state.withKey(key);
  }

  async findItem(key: Hash): Promise<ItemRecord | undefined> {
    return this.state.itemWithKey(key);
  }

  lastSuccess(target: TargetId): BatchRecord | undefined {
    return this.state.lastSuccess(target);
  }

  failure(target: TargetId): FailureRecord | undefined {
    return this.state.failure(target);
  }

  merge(phase: string): MergeRecord | undefined {
    return this.state.merge(phase);
  }

  lastItem(phase: string, id: string): ItemRecord | undefined {
    return this.state.lastItem(phase, id);
  }

  targets(): TargetId[] {
    return this.state.targets();
  }

  recordBatch(r: BatchRecord): void {
    this.state.append(r);
  }

  recordItem(r: ItemRecord): void {
    this.state.append(r);
  }

  recordFailure(r: FailureRecord): void {
    this.state.append(r);
  }

  recordMerge(r: MergeRecord): void {
    this.state.append(r);
  }

  forget(r: ForgetRecord): void {
    this.state.append(r);
  }

  /**
   * After a build: the log compacted when it pays; when the history was rewritten, stored outputs no record
   * refers to any more are deleted (only then is it worth a listing of every blob).
   */
  async finish(): Promise<void> {
    if (!this.state.needsCompaction()) return;
    if ((await this.state.compact()) === 'rewritten') await this.blobs.retain(this.state.liveObjects());
    mark('state compacted');
  }

  /** cf clean: the history rewritten with what is still kept, then every blob no record refers to deleted. */
  async collect(): Promise<number> {
    await this.state.compact({ full: true });
    return this.blobs.retain(this.state.liveObjects());
  }

  /** How many blobs collect() would delete once these records are forgotten; forgets nothing here. */
  async uncollected(forgetting: readonly ForgetRecord[] = []): Promise<number> {
    return (await this.blobs.unreferenced(this.state.liveObjects(forgetting))).length;
  }

  close(): void {
    this.state.close();
  }

  /** The log's size as this store last left it (another process appending changes it). */
  get revision(): number | null {
    return this.state.logSize;
  }
}
