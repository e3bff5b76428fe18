import type { TargetId } from '../../src/engine/targets.js';
import type { BlobStore } from '../../src/store/blobs.js';
import type { OpenedStore } from '../../src/store/buildStore.js';
import type { BatchRecord, FailureRecord, ForgetRecord, ItemRecord, MergeRecord } from '../../src/store/records.js';
import { hashString, type Hash } from '../../src/util/hash.js';

/*
 * A BuildStore whose records and blobs live in another object, as a shared cache on another machine would
 * hold them: the engine's lookups by key and its blobs go there and back only as JSON, through async calls
 * answered in order on a later turn of the event loop. Nothing is shared by identity. What the BuildStore
 * interface keeps local by design (this checkout's journal: each target's newest run, its failure, the
 * merged outputs) is kept here too, from the records this checkout wrote.
 */

type Request =
  | { op: 'findBatch' | 'findItem'; key: string }
  | { op: 'publish'; record: BatchRecord | ItemRecord }
  | { op: 'forget'; record: ForgetRecord }
  | { op: 'put'; text: string }
  | { op: 'has' | 'get' | 'remove'; hash: string };

/** The far side: every record and blob, reached only through call(). */
export class StoreServer {
  private readonly batches = new Map<string, BatchRecord>();
  private readonly items = new Map<string, ItemRecord>();
  private readonly blobs = new Map<string, string>();
  /** How many requests of each kind it answered (what the test checks was asked). */
  readonly calls = new Map<string, number>();
  /** Lookups by key answered with a record. */
  hits = 0;

  /** One request, as text; its answer, as text, on a later turn (in the order requests came). */
  call(request: string): Promise<string> {
    return new Promise((resolve) => setImmediate(() => resolve(JSON.stringify(this.answer(JSON.parse(request) as Request) ?? null))));
  }

  private answer(req: Request): unknown {
    this.calls.set(req.op, (this.calls.get(req.op) ?? 0) + 1);
    switch (req.op) {
      case 'findBatch':
      case 'findItem': {
        const r = (req.op === 'findBatch' ? this.batches : this.items).get(req.key);
        if (r) this.hits++;
        return r;
      }
      case 'publish':
        if (req.record.t === 'batch') this.batches.set(req.record.key, req.record);
        else this.items.set(req.record.key, req.record);
        return true;
      case 'forget': {
        const { target, items } = req.record;
        const [phase] = target.split('#');
        for (const [k, r] of this.batches) if (r.target === target || (!target.includes('#') && r.target.startsWith(`${phase}#`))) this.batches.delete(k);
        for (const [k, r] of this.items) if (r.phase === phase && (!target.includes('#') || items?.includes(r.id))) this.items.delete(k);
        return true;
      }
      case 'put': {
        const h = hashString(req.text);
        this.blobs.set(h, req.text);
        return h;
      }
      case 'has':
        return this.blobs.has(req.hash);
      case 'get':
        return this.blobs.get(req.hash);
      case 'remove':
        return this.blobs.delete(req.hash);
    }
  }

  /** Damages a stored blob (as a disk or a network could): a read must find out by its hash. */
  damage(hash: string): void {
    this.blobs.set(hash, `${this.blobs.get(hash) ?? ''} `);
  }
}

/** The near side: a BuildStore over a StoreServer (as a workspace opens it: OpenedStore). */
export class RemoteStore implements OpenedStore {
  readonly blobs: BlobStore;
  private readonly last = new Map<TargetId, BatchRecord>();
  private readonly failures = new Map<TargetId, FailureRecord>();
  private readonly merges = new Map<string, MergeRecord>();
  private readonly lastItems = new Map<string, ItemRecord>();
  /** Writes sent and not yet answered (requests are answered in order: a later lookup sees them). */
  private readonly pending = new Set<Promise<unknown>>();

  constructor(private readonly server: StoreServer) {
    const ask = this.ask.bind(this);
    this.blobs = {
      put: async (text) => (await ask({ op: 'put', text })) as Hash,
      has: async (hash) => (await ask({ op: 'has', hash })) as boolean,
      // Verified by its hash on read: what came back over the wire may not be what was stored.
      get: async (hash) => {
        const text = (await ask({ op: 'get', hash })) as string | null;
        return text !== null && hashString(text) === hash ? text : null;
      },
      remove: async (hash) => {
        await ask({ op: 'remove', hash });
      },
    };
  }

  private async ask(req: Request): Promise<unknown> {
    return JSON.parse(await this.server.call(JSON.stringify(req))) as unknown;
  }

  /** A write the engine does not wait for (record… are synchronous): sent now, answered in turn. */
  private send(req: Request): void {
    const p = this.ask(req);
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  /** Every write sent so far, answered. */
  async flush(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  /** After a build: every write answered. A shared store is never garbage-collected by one checkout. */
  finish(): Promise<void> {
    return this.flush();
  }

  async collect(): Promise<number> {
    return 0;
  }

  async uncollected(): Promise<number> {
    return 0;
  }

  /** Others write to it at any time: cf watch asks it again each rebuild. */
  readonly revision = null;

  close(): void {}

  async findBatch(key: Hash): Promise<BatchRecord | undefined> {
    return ((await this.ask({ op: 'findBatch', key })) as BatchRecord | null) ?? undefined;
  }

  async findItem(key: Hash): Promise<ItemRecord | undefined> {
    return ((await this.ask({ op: 'findItem', key })) as ItemRecord | null) ?? undefined;
  }

  lastSuccess(target: TargetId): BatchRecord | undefined {
    return this.last.get(target);
  }

  failure(target: TargetId): FailureRecord | undefined {
    return this.failures.get(target);
  }

  merge(phase: string): MergeRecord | undefined {
    return this.merges.get(phase);
  }

  lastItem(phase: string, id: string): ItemRecord | undefined {
    return this.lastItems.get(`${phase}\u0000${id}`);
  }

  targets(): TargetId[] {
    return [...new Set([...this.last.keys(), ...this.failures.keys()])];
  }

  recordBatch(r: BatchRecord): void {
    this.last.set(r.target, r);
    this.failures.delete(r.target);
    this.send({ op: 'publish', record: r });
  }

  recordItem(r: ItemRecord): void {
    this.lastItems.set(`${r.phase}\u0000${r.id}`, r);
    this.send({ op: 'publish', record: r });
  }

  recordFailure(r: FailureRecord): void {
    this.failures.set(r.target, r);
  }

  recordMerge(r: MergeRecord): void {
    this.merges.set(r.phase, r);
  }

  forget(r: ForgetRecord): void {
    this.last.delete(r.target);
    this.failures.delete(r.target);
    if (!r.target.includes('#')) this.merges.delete(r.target);
    this.send({ op: 'forget', record: r });
  }
}
