import { existsSync, readdirSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { writeAtomicSync } from '../util/fsx.js';
import { hashString, type Hash } from '../util/hash.js';

/**
 * Content-addressed blobs (batch outputs): stored once by the hash of their text, verified by it on read.
 * Asynchronous throughout: a blob store may live elsewhere (a shared cache).
 */
export interface BlobStore {
  put(text: string): Promise<Hash>;
  has(hash: Hash): Promise<boolean>;
  /** The blob's text, or null when it is missing or damaged (its content no longer matches its hash). */
  get(hash: Hash): Promise<string | null>;
  /** Deletes one blob (found damaged: it must not be taken for a stored output again). */
  remove(hash: Hash): Promise<void>;
}

/** A blob store this checkout owns: it may delete what no record refers to (never a shared one). */
export interface OwnBlobStore extends BlobStore {
  /** Deletes every blob not in `keep`; returns how many were deleted. */
  retain(keep: ReadonlySet<Hash>): Promise<number>;
  /** What retain(keep) would delete (`cf clean -n` counts them; nothing is deleted). */
  unreferenced(keep: ReadonlySet<Hash>): Promise<string[]>;
}

export class MemoryBlobStore implements OwnBlobStore {
  readonly blobs = new Map<Hash, string>();
  async put(text: string): Promise<Hash> {
    const h = hashString(text);
    this.blobs.set(h, text);
    return h;
  }
  async has(hash: Hash): Promise<boolean> {
    return this.blobs.has(hash);
  }
  async get(hash: Hash): Promise<string | null> {
    const text = this.blobs.get(hash);
    return text !== undefined && hashString(text) === hash ? text : null;
  }
  async retain(keep: ReadonlySet<Hash>): Promise<number> {
    let n = 0;
    for (const h of [...this.blobs.keys()]) if (!keep.has(h) && this.blobs.delete(h)) n++;
    return n;
  }
  async unreferenced(keep: ReadonlySet<Hash>): Promise<string[]> {
    return [...this.blobs.keys()].filter((h) => !keep.has(h));
  }
  async remove(hash: Hash): Promise<void> {
    this.blobs.delete(hash);
  }
}

export class DiskBlobStore implements OwnBlobStore {
  /**
   * The blobs on disk, listed once (a directory read per shard) when has() is first asked, then kept up to
   * date by this store's own writes and deletes: planning asks for every fresh batch's blob, and a stat each
   * cost a 20,000-seed rebuild tens of ms (3,000 stats) where the listing costs a few.
   */
  private present: Set<string> | undefined;

  constructor(private readonly dir: string) {}

  private listing(): Set<string> {
    if (this.present) return this.present;
    const present = new Set<string>();
    const list = (d: string): string[] => {
      try {
        return readdirSync(d);
      } catch {
        return [];
      }
    };
    for (const shard of list(this.dir)) for (const f of list(path.join(this.dir, shard))) if (f.endsWith('.json')) present.add(`${shard}${f.slice(0, -5)}`);
    this.present = present;
    return present;
  }

  private file(hash: Hash): string {
    return path.join(this.dir, hash.slice(0, 2), `${hash.slice(2)}.json`);
  }

  async put(text: string): Promise<Hash> {
    const h = hashString(text);
    // Synchronous: a batch's output is small, and this is on the path from one agent run to the next.
    if (!existsSync(this.file(h))) writeAtomicSync(this.file(h), text);
    this.present?.add(h);
    return h;
  }

  async has(hash: Hash): Promise<boolean> {
    return this.listing().has(hash);
  }

  async get(hash: Hash): Promise<string | null> {
    const text = await readFile(this.file(hash), 'utf8').catch(() => null);
    return text !== null && hashString(text) === hash ? text : null;
  }

  async remove(hash: Hash): Promise<void> {
    this.present?.delete(hash);
    await rm(this.file(hash), { force: true });
  }

  async retain(keep: ReadonlySet<Hash>): Promise<number> {
    const files = await this.unreferenced(keep);
    for (const f of files) await rm(f, { force: true });
    this.present = undefined;
    return files.length;
  }

  /** The files of the blobs not in `keep`: what retain(keep) deletes (`cf clean -n` counts them; nothing is deleted). */
  async unreferenced(keep: ReadonlySet<Hash>): Promise<string[]> {
    const files: string[] = [];
    const shards = await readdir(this.dir).catch(() => [] as string[]);
    for (const shard of shards) {
      for (const f of await readdir(path.join(this.dir, shard)).catch(() => [] as string[])) {
        const h = `${shard}${f.replace(/\.json$/, '')}` as Hash;
        if (!keep.has(h)) files.push(path.join(this.dir, shard, f));
      }
    }
    return files;
  }
}
