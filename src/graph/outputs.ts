import { copyFile, mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { writeAtomic } from '../util/fsx.js';
import { hashString } from '../util/hash.js';
import type { FileStamp } from './records.js';

/** The merged output files, as the engine sees them (on disk, or in memory for engine tests). */
export interface OutputStore {
  stamp(rel: string): Promise<Omit<FileStamp, 'hash'> | null>;
  read(rel: string): Promise<string | null>;
  /** Writes atomically and returns the new stamp. */
  write(rel: string, text: string): Promise<FileStamp>;
  /** Keeps a copy of a file about to be replaced (it was edited by hand); returns where. */
  preserve(rel: string): Promise<string>;
}

export function sameStamp(a: Omit<FileStamp, 'hash'>, b: Omit<FileStamp, 'hash'>): boolean {
  return a.size === b.size && a.mtimeNs === b.mtimeNs && a.ino === b.ino;
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

  async write(rel: string, text: string): Promise<FileStamp> {
    await writeAtomic(path.resolve(this.dir, rel), text);
    const s = await this.stamp(rel);
    if (!s) throw new Error(`${rel} vanished right after it was written`);
    return { hash: hashString(text), ...s };
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
  async write(rel: string, text: string): Promise<FileStamp> {
    const stamp = { size: text.length, mtimeNs: String(++this.tick), ino: 1 };
    this.files.set(rel, { text, stamp });
    return { hash: hashString(text), ...stamp };
  }
  async preserve(rel: string): Promise<string> {
    return `${rel}.replaced`;
  }
}
