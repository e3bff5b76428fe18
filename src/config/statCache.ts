import { readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { hashFileContent, hashString, type Hash } from '../util/hash.js';
import { readTextOrNullSync, writeAtomic } from '../util/fsx.js';
import { isRacy } from '../util/racy.js';

/**
 * (size, mtime, inode) → content hash, so a no-op build does not re-read its inputs.
 * A file modified too shortly before it was hashed is not trusted next time (a second write in the same
 * timestamp tick could hide: util/racy.ts); it is re-hashed until its mtime is old enough.
 * `derived` holds data computed from the content (e.g. the seeds' ids and item hashes), valid with the hash.
 */
interface Entry {
  size: number;
  mtimeNs: string;
  ino: number;
  hash: Hash;
  trusted: boolean;
  derived?: { kind: string; data: unknown };
}

const VERSION = 1;

export interface FileContent {
  hash: Hash;
  /** Present when the file had to be read. */
  text?: string;
}

export class StatCache {
  private dirty = false;
  /** Derived data of files whose content changed in this run: the previous version's, for incremental work. */
  private readonly previous = new Map<string, { derived: NonNullable<Entry['derived']>; hash: Hash }>();
  /** Snapshots of file contents to keep beside derived data (written on save). */
  private readonly snapshots = new Map<string, string>();

  private constructor(
    private readonly file: string | null,
    private readonly entries: Map<string, Entry>,
  ) {}

  static memory(): StatCache {
    return new StatCache(null, new Map());
  }

  static async load(file: string): Promise<StatCache> {
    const text = readTextOrNullSync(file);
    const entries = new Map<string, Entry>();
    if (text) {
      try {
        const parsed = JSON.parse(text) as { v: number; entries: Record<string, Entry> };
        if (parsed.v === VERSION) for (const [k, v] of Object.entries(parsed.entries)) entries.set(k, v);
      } catch {
        // A damaged cache is only a slower build.
      }
    }
    return new StatCache(file, entries);
  }

  /** The content hash of a file, reading it only when its stat changed. `null` when it does not exist. */
  async hashFile(abs: string): Promise<FileContent | null> {
    const st = await stat(abs, { bigint: true }).catch(() => null);
    if (!st?.isFile()) return null;
    const e = this.entries.get(abs);
    if (e && e.trusted && e.size === Number(st.size) && e.mtimeNs === String(st.mtimeNs) && e.ino === Number(st.ino)) {
      return { hash: e.hash };
    }
    const bytes = readFileSync(abs);
    const text = bytes.toString('utf8');
    const hash = hashFileContent(bytes);
    const entry: Entry = {
      size: Number(st.size),
      mtimeNs: String(st.mtimeNs),
      ino: Number(st.ino),
      hash,
      trusted: !isRacy(st.mtimeNs, Date.now()),
    };
    if (e?.hash === hash && e.derived) entry.derived = e.derived;
    else if (e?.derived) this.previous.set(abs, { derived: e.derived, hash: e.hash });
    this.entries.set(abs, entry);
    this.dirty = true;
    return { hash, text };
  }

  /** The content hash known for a file with exactly this stat, if any (no reading, no hashing). */
  knownHash(abs: string, stat: { size: number; mtimeNs: string; ino: number }): Hash | undefined {
    const e = this.entries.get(abs);
    return e && e.size === stat.size && e.mtimeNs === stat.mtimeNs && e.ino === stat.ino ? e.hash : undefined;
  }

  /** Data derived from a file's content, recomputed only when the content hash changed. */
  derived<T>(abs: string, kind: string): T | undefined {
    const e = this.entries.get(abs);
    return e?.derived?.kind === kind ? (e.derived.data as T) : undefined;
  }

  /**
   * Derived data set with a snapshot of the content it came from: kept on save, and offered back by
   * `previous` after the file changes, so the new version can be compared with the old one.
   */
  setDerived(abs: string, kind: string, data: unknown, snapshot?: string): void {
    const e = this.entries.get(abs);
    if (!e) return;
    e.derived = { kind, data };
    if (snapshot !== undefined) this.snapshots.set(abs, snapshot);
    this.dirty = true;
  }

  /** The derived data of the file's previous content, with that content, when it changed in this run. */
  async previousDerived<T>(abs: string, kind: string): Promise<{ data: T; snapshot: string } | undefined> {
    const p = this.previous.get(abs);
    if (p?.derived.kind !== kind || !this.file) return undefined;
    let bytes: Buffer;
    try {
      bytes = readFileSync(this.snapshotFile(abs));
    } catch {
      return undefined;
    }
    // Only the content the data came from: a crash between writing a snapshot and the cache that goes
    // with it leaves them from different versions.
    return hashFileContent(bytes) === p.hash ? { data: p.derived.data as T, snapshot: bytes.toString('utf8') } : undefined;
  }

  private snapshotFile(abs: string): string {
    return path.join(path.dirname(this.file!), 'snapshots', `${hashString(abs)}.txt`);
  }

  async save(): Promise<void> {
    if (!this.file || !this.dirty) return;
    for (const [abs, text] of this.snapshots) await writeAtomic(this.snapshotFile(abs), text);
    this.snapshots.clear();
    const entries: Record<string, Entry> = {};
    for (const [k, v] of this.entries) entries[k] = v;
    await writeAtomic(this.file, JSON.stringify({ v: VERSION, entries }));
    this.dirty = false;
  }
}
