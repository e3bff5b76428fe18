import type { Hash } from '../../util/hash.js';
import { Pool } from '../../util/pool.js';
import type { RemoteBackend } from './backend.js';
import { objectName, sha256, type ObjectKind } from './names.js';
import { sharedText, type BlobRef, type SharedRecord } from './sharedRecords.js';

/** Uploads at once: enough to keep up with -j agents on a slow link, few enough to stay out of their way. */
const UPLOADS = 8;

/**
 * Publishes records to a shared cache in the background while the build goes on (the engine never waits
 * for it; the build waits for the last upload before it ends: flush). A record is sent only once its
 * output is stored there, so a reader never finds a record whose output is still on its way; an output is
 * sent once however many records (a batch and its items) refer to it. The first failure stops it: nothing
 * more is sent in this build, and it is reported once (by the owner's `failed`).
 */
export class Publisher {
  private readonly pool = new Pool(UPLOADS);
  private readonly blobs = new Map<Hash, Promise<BlobRef | null>>();
  private readonly pending = new Set<Promise<void>>();
  private stopped = false;
  /** Records stored, by kind. */
  readonly sent = { batch: 0, item: 0 };

  constructor(
    private readonly o: {
      backend: RemoteBackend;
      /** An output's text, from the local store (null: it is gone). */
      blobText(out: Hash): Promise<string | null>;
      failed(e: unknown): void;
    },
  ) {}

  /** Sends a record (`make`: it, once its output is stored, as named there) under this name. */
  publish(kind: Exclude<ObjectKind, 'blob'>, name: string, out: Hash, make: (out: BlobRef) => SharedRecord): void {
    if (this.stopped) return;
    const p = (async () => {
      const ref = await this.blob(out);
      if (!ref || this.stopped) return;
      const text = sharedText(make(ref));
      await this.pool.run(0, () => (this.stopped ? Promise.resolve() : this.o.backend.put(objectName(kind, name), text)));
      if (!this.stopped) this.sent[kind]++;
    })().catch((e: unknown) => this.fail(e));
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  private blob(out: Hash): Promise<BlobRef | null> {
    let p = this.blobs.get(out);
    if (!p) {
      p = (async () => {
        const text = await this.o.blobText(out);
        if (text === null || this.stopped) return null;
        const ref: BlobRef = { sha256: sha256(text), xxh64: out, bytes: Buffer.byteLength(text) };
        await this.pool.run(0, () => (this.stopped ? Promise.resolve() : this.o.backend.put(objectName('blob', ref.sha256), text)));
        return this.stopped ? null : ref;
      })().catch((e: unknown) => {
        this.fail(e);
        return null;
      });
      this.blobs.set(out, p);
    }
    return p;
  }

  private fail(e: unknown): void {
    if (this.stopped) return;
    this.stopped = true;
    this.o.failed(e);
  }

  /** Every upload sent so far, done (or given up). */
  async flush(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
  }
}
