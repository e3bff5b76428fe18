import { copyFile, mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { writeAtomic, writeAtomicParts, writeAtomicStream } from '../util/fsx.js';
import { hashBytes, hashParts, hashString, streamingHash, type Hash } from '../util/hash.js';
import type { FileStamp } from './records.js';

/** The merged output files, as the engine sees them (on disk, or in memory for engine tests). */
export interface OutputStore {
  stamp(rel: string): Promise<Omit<FileStamp, 'hash'> | null>;
  read(rel: string): Promise<string | null>;
  /** The file's bytes (no decoding: hashing and splicing a large merge need none). */
  readBytes(rel: string): Promise<Uint8Array | null>;
  /** Writes atomically and returns the new stamp. Parts are written one after another. */
  write(rel: string, data: string | Uint8Array | readonly Uint8Array[]): Promise<FileStamp>;
  /** write() for a file made chunk by chunk (a large merge): never all in memory at once. */
  writeStream(rel: string, chunks: AsyncIterable<Uint8Array>): Promise<FileStamp>;
  /** Byte ranges of a file, read on demand (a merge copying the unchanged batches of the previous file). */
  openBytes(rel: string): Promise<ByteSource | null>;
  /** Keeps a copy of a file about to be replaced (it was edited by hand); returns where. */
  preserve(rel: string): Promise<string>;
  /** Deletes the file (cf clean); says whether there was one. */
  remove(rel: string): Promise<boolean>;
}

const WINDOW = 4 << 20;

export interface ByteSource {
  size: number;
  read(start: number, end: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

export function hashOf(data: string | Uint8Array | readonly Uint8Array[]): Hash {
  if (typeof data === 'string') return hashString(data);
  return Array.isArray(data) ? hashParts(data) : hashBytes(data as Uint8Array);
}

export function sameStamp(a: Omit<FileStamp, 'hash'>, b: Omit<FileStamp, 'hash'>): boolean {
  return a.size === b.size && a.mtimeNs === b.mtimeNs && a.ino === b.ino;
}

/**
 * Whether the file at `rel` is the one cf last wrote (`written`: its stamp and hash then): `untouched` when
 * its stamp is the same, else `ours` only when its content still has that hash (touched, or saved
 * unchanged). A file that is neither was edited by hand, or was never written by cf. The one answer to
 * "is this merged output as recorded?" (merges, status, hand edits).
 */
export async function asWritten(outputs: OutputStore, rel: string, written: FileStamp | undefined): Promise<{ stamp: Omit<FileStamp, 'hash'> | null; ours: boolean; untouched: boolean }> {
  const stamp = await outputs.stamp(rel);
  if (!stamp || !written) return { stamp, ours: false, untouched: false };
  if (sameStamp(stamp, written)) return { stamp, ours: true, untouched: true };
  const bytes = await outputs.readBytes(rel);
  return { stamp, ours: bytes !== null && hashBytes(bytes) === written.hash, untouched: false };
}

export class DiskOutputStore implements OutputStore {
  constructor(
    private readonly dir: string,
    private readonly replacedDir: string,
  ) {}

  async stamp(rel: string): Promise<Omit<FileStamp, 'hash'> | null> {
    const st = await stat(path.resolve(this.dir, rel), { bigint: true }).catch(() => null);
    return st?.isFile() ? { size: Number(st.size), mtimeNs: String(st.mtimeNs), ino: Number(st.ino) } : null;
  }

  read(rel: string): Promise<string | null> {
    return readFile(path.resolve(this.dir, rel), 'utf8').catch(() => null);
  }

  readBytes(rel: string): Promise<Uint8Array | null> {
    return readFile(path.resolve(this.dir, rel)).catch(() => null);
  }

  async write(rel: string, data: string | Uint8Array | readonly Uint8Array[]): Promise<FileStamp> {
    if (Array.isArray(data)) await writeAtomicParts(path.resolve(this.dir, rel), data);
    else await writeAtomic(path.resolve(this.dir, rel), data as string | Uint8Array);
    const s = await this.stamp(rel);
    if (!s) throw new Error(`${rel} vanished right after it was written`);
    return { hash: hashOf(data), ...s };
  }

  async writeStream(rel: string, chunks: AsyncIterable<Uint8Array>): Promise<FileStamp> {
    const hash = streamingHash();
    await writeAtomicStream(path.resolve(this.dir, rel), chunks, (c) => hash.update(c));
    const s = await this.stamp(rel);
    if (!s) throw new Error(`${rel} vanished right after it was written`);
    return { hash: hash.digest(), ...s };
  }

  async openBytes(rel: string): Promise<ByteSource | null> {
    const fh = await open(path.resolve(this.dir, rel), 'r').catch(() => null);
    if (!fh) return null;
    const { size } = await fh.stat();
    // Ranges come in file order, batch after batch: read a window of a few MB at a time, not one read each.
    let window = Buffer.alloc(0);
    let windowStart = 0;
    const fill = async (start: number, length: number): Promise<void> => {
      window = Buffer.allocUnsafe(Math.min(Math.max(length, WINDOW), size - start));
      windowStart = start;
      let got = 0;
      while (got < window.length) {
        const { bytesRead } = await fh.read(window, got, window.length - got, start + got);
        if (bytesRead === 0) throw new Error(`${rel} is shorter than expected`);
        got += bytesRead;
      }
    };
    return {
      size,
      read: async (start, end) => {
        if (start < windowStart || end > windowStart + window.length) await fill(start, end - start);
        // Each window is a new buffer: a range handed out stays valid while it waits to be written.
        return window.subarray(start - windowStart, end - windowStart);
      },
      close: () => fh.close(),
    };
  }

  remove(rel: string): Promise<boolean> {
    return rm(path.resolve(this.dir, rel)).then(
      () => true,
      () => false,
    );
  }

  async preserve(rel: string): Promise<string> {
    const stampName = new Date().toISOString().replace(/[:.]/g, '-');
    const dest = path.join(this.replacedDir, `${rel.split(path.sep).join('__')}.${stampName}`);
    await mkdir(path.dirname(dest), { recursive: true });
    await copyFile(path.resolve(this.dir, rel), dest);
    return path.relative(this.dir, dest);
  }
}

export class MemoryOutputStore implements OutputStore {
  readonly files = new Map<string, { text: string; stamp: Omit<FileStamp, 'hash'> }>();
  private tick = 0;

  async stamp(rel: string): Promise<Omit<FileStamp, 'hash'> | null> {
    return this.files.get(rel)?.stamp ?? null;
  }
  async read(rel: string): Promise<string | null> {
    return this.files.get(rel)?.text ?? null;
  }
  async readBytes(rel: string): Promise<Uint8Array | null> {
    const f = this.files.get(rel);
    return f ? Buffer.from(f.text) : null;
  }
  async write(rel: string, data: string | Uint8Array | readonly Uint8Array[]): Promise<FileStamp> {
    const text = typeof data === 'string' ? data : Buffer.concat(Array.isArray(data) ? data : [data as Uint8Array]).toString('utf8');
    const stamp = { size: text.length, mtimeNs: String(++this.tick), ino: 1 };
    this.files.set(rel, { text, stamp });
    return { hash: hashOf(data), ...stamp };
  }
  async writeStream(rel: string, chunks: AsyncIterable<Uint8Array>): Promise<FileStamp> {
    const all: Uint8Array[] = [];
    for await (const c of chunks) all.push(c);
    return this.write(rel, all);
  }
  async openBytes(rel: string): Promise<ByteSource | null> {
    const f = this.files.get(rel);
    if (!f) return null;
    const bytes = Buffer.from(f.text);
    return { size: bytes.length, read: async (a, b) => bytes.subarray(a, b), close: async () => undefined };
  }
  async preserve(rel: string): Promise<string> {
    return `${rel}.replaced`;
  }
  async remove(rel: string): Promise<boolean> {
    return this.files.delete(rel);
  }
}
