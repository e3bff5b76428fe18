import type { TargetId } from '../engine/targets.js';
import type { BuildEvent } from '../events/types.js';
import { hashString, type Hash } from '../util/hash.js';
import type { BlobStore } from './blobs.js';
import type { KeyMaterial, OpenedStore } from './buildStore.js';
import type { BatchRecord, FailureRecord, ForgetRecord, ItemRecord, MergeRecord } from './records.js';
import { describeRemoteError, type RemoteBackend } from './remote/backend.js';
import { objectName, sha256 } from './remote/names.js';
import { Publisher } from './remote/publisher.js';
import { localBatch, localItem, publishable, readShared, sharedBatch, sharedItem, type Built, type SharedBatch, type SharedItem } from './remote/sharedRecords.js';

/** A shared cache as a build uses it: where, and whether it may publish there. */
export interface RemoteCache {
  backend: RemoteBackend;
  mode: 'read' | 'read-write';
}

export interface SharedStoreOptions {
  remote: RemoteCache;
  now(): Date;
  emit(e: BuildEvent): void;
  /** This machine's name and cf's version, in what it publishes. */
  host: string;
  cf: string;
  /** This machine's paths, replaced in what it publishes: the checkout's directory, then the home directory. */
  paths: readonly string[];
}

/**
 * The checkout's own store (a LocalStore) with a shared cache behind it, one team's, on other machines too.
 * A key this checkout does not hold is asked of the shared cache (by the SHA-256 of the key's material);
 * what it holds is taken: its output downloaded and checked against its hashes (SHA-256 and the local
 * xxh64), stored and recorded here (marked with where it was built), and no agent runs. What this checkout
 * builds and validates is published (publisher.ts) before the build ends. Failures, merges, hand edits,
 * adoptions and cf clean stay here: the shared cache is never cleaned from a checkout (cf gc --remote).
 *
 * A shared cache that does not answer is reported once and left alone for the rest of the build, which goes
 * on locally; what it holds that is damaged is reported (naming the batch) and built here as a miss.
 */
export class SharedStore implements OpenedStore {
  private readonly backend: RemoteBackend;
  private readonly publisher: Publisher | null;
  /** Reading stopped (the remote failed); publishing stops with it, or on its own first failure. */
  private reading = true;
  private warned = false;
  /** Remote lookups of this build, by object name (planning and building ask for the same keys). */
  private readonly lookups = new Map<string, Promise<SharedBatch | SharedItem | null>>();
  /** The material of keys not found here: what is built under them is published under its SHA-256. */
  private readonly batchMaterial = new Map<Hash, KeyMaterial>();
  private readonly itemMaterial = new Map<Hash, KeyMaterial>();
  private takenNow = new WeakSet<BatchRecord>();

  constructor(
    readonly local: OpenedStore,
    private readonly o: SharedStoreOptions,
  ) {
    this.backend = o.remote.backend;
    this.publisher =
      o.remote.mode === 'read-write'
        ? new Publisher({ backend: this.backend, blobText: (out) => this.local.blobs.get(out), failed: (e) => this.unavailable('publish', e) })
        : null;
  }

  get blobs(): BlobStore {
    return this.local.blobs;
  }

  private get where(): string {
    return this.backend.where;
  }

  private unavailable(op: 'read' | 'publish', e: unknown): void {
    if (op === 'read') this.reading = false;
    if (this.warned) return;
    this.warned = true;
    this.o.emit({ event: 'remote-unavailable', remote: this.where, op, reason: describeRemoteError(e) });
  }

  private damaged(target: string, reason: string): void {
    this.o.emit({ event: 'remote-damaged', remote: this.where, target, reason });
  }

  /**
   * A record of the shared cache, with its output stored here (downloaded unless this checkout holds it:
   * its local address, a hash of its text, says so), or null: absent, of a newer cf, damaged (reported).
   */
  private lookup(kind: 'batch', name: string): Promise<SharedBatch | null>;
  private lookup(kind: 'item', name: string): Promise<SharedItem | null>;
  private lookup(kind: 'batch' | 'item', name: string): Promise<SharedBatch | SharedItem | null> {
    let p = this.lookups.get(name + kind);
    if (!p) {
      p = this.fetch(kind, name).catch((e: unknown) => {
        this.unavailable('read', e);
        return null;
      });
      this.lookups.set(name + kind, p);
    }
    return p;
  }

  private async fetch(kind: 'batch' | 'item', name: string): Promise<SharedBatch | SharedItem | null> {
    if (!this.reading) return null;
    const text = await this.backend.get(objectName(kind, name));
    if (text === null) return null;
    const r = readShared(text, kind, name);
    if (r === 'newer') return null;
    if (r === 'malformed') {
      this.damaged(`${kind} ${name.slice(0, 16)}`, 'its record is not one cf can read (damaged?)');
      return null;
    }
    const what = r.t === 'batch' ? r.target : `${r.phase} item ${r.id}`;
    if (await this.local.blobs.has(r.out.xxh64)) return r;
    const blob = await this.backend.get(objectName('blob', r.out.sha256));
    if (blob === null) {
      this.damaged(what, 'its output is missing from the remote cache');
      return null;
    }
    // Checked against both hashes: what names it there (SHA-256), and what addresses it here.
    if (sha256(blob) !== r.out.sha256 || hashString(blob) !== r.out.xxh64) {
      this.damaged(what, `its output does not match its hash (${r.out.sha256.slice(0, 16)}…): not taken`);
      return null;
    }
    await this.local.blobs.put(blob);
    return r;
  }

  async findBatch(key: Hash, material?: KeyMaterial): Promise<BatchRecord | undefined> {
    const near = await this.local.findBatch(key);
    if ((near && (await this.local.blobs.has(near.out))) || !material) return near;
    this.batchMaterial.set(key, material);
    const far = await this.lookup('batch', sha256(material()));
    if (!far) return near;
    const r = localBatch(far, key, this.o.now().toISOString());
    this.local.recordBatch(r);
    this.takenNow.add(r);
    return r;
  }

  async findItem(key: Hash, material?: KeyMaterial): Promise<ItemRecord | undefined> {
    const near = await this.local.findItem(key);
    if ((near && (await this.local.blobs.has(near.out))) || !material) return near;
    this.itemMaterial.set(key, material);
    const far = await this.lookup('item', sha256(material()));
    if (!far) return near;
    const r = localItem(far, key, this.o.now().toISOString());
    this.local.recordItem(r);
    return r;
  }

  taken(r: BatchRecord): boolean {
    return this.takenNow.has(r);
  }

  private built(at: string): Built {
    return { host: this.o.host, at, cf: this.o.cf };
  }

  recordBatch(r: BatchRecord): void {
    this.local.recordBatch(r);
    const material = this.batchMaterial.get(r.key);
    if (!this.publisher || !material || !publishable(r)) return;
    this.batchMaterial.delete(r.key);
    const name = sha256(material());
    this.publisher.publish('batch', name, r.out, (out) => sharedBatch(r, name, out, this.built(r.at), this.o.paths));
  }

  recordItem(r: ItemRecord): void {
    this.local.recordItem(r);
    const material = this.itemMaterial.get(r.key);
    if (!this.publisher || !material || !publishable(r)) return;
    this.itemMaterial.delete(r.key);
    const name = sha256(material());
    this.publisher.publish('item', name, r.out, (out) => sharedItem(r, name, out, this.built(r.at)));
  }

  /** Failures are this machine's: never shared. */
  recordFailure(r: FailureRecord): void {
    this.local.recordFailure(r);
  }

  /** Merged outputs are derived from the batches: never shared. */
  recordMerge(r: MergeRecord): void {
    this.local.recordMerge(r);
  }

  /** cf clean forgets here only. */
  forget(r: ForgetRecord): void {
    this.local.forget(r);
  }

  lastSuccess(target: TargetId): BatchRecord | undefined {
    return this.local.lastSuccess(target);
  }

  failure(target: TargetId): FailureRecord | undefined {
    return this.local.failure(target);
  }

  merge(phase: string): MergeRecord | undefined {
    return this.local.merge(phase);
  }

  lastItem(phase: string, id: string): ItemRecord | undefined {
    return this.local.lastItem(phase, id);
  }

  targets(): TargetId[] {
    return this.local.targets();
  }

  /** After a build: every upload done (the build ends after them), then the local store's own upkeep. */
  async finish(): Promise<void> {
    if (this.publisher) {
      const started = Date.now();
      await this.publisher.flush();
      const { batch, item } = this.publisher.sent;
      if (batch + item) this.o.emit({ event: 'remote-published', remote: this.where, batches: batch, items: item, waitedMs: Date.now() - started });
    }
    this.takenNow = new WeakSet();
    await this.local.finish();
  }

  /** Only what this checkout holds: a shared cache is never collected from here. */
  collect(): Promise<number> {
    return this.local.collect();
  }

  uncollected(forgetting?: readonly ForgetRecord[]): Promise<number> {
    return this.local.uncollected(forgetting);
  }

  get revision(): number | null {
    return this.local.revision;
  }

  close(): void {
    this.local.close();
  }
}
