import { readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { writeAtomic } from '../../util/fsx.js';
import type { RemoteBackend, RemoteObject } from './backend.js';

/*
 * A shared cache in a directory (a shared disk: NFS, SMB, a synced folder), with the semantics of a bucket:
 * each object is written to a temporary file beside it and renamed over it, so two machines writing the
 * same object leave one whole copy, and a reader never sees half of one. The directory must exist (as a
 * bucket must): a disk that is not mounted is an unavailable remote, not an empty one.
 */
export class DirectoryBackend implements RemoteBackend {
  constructor(private readonly root: string) {}

  get where(): string {
    return this.root;
  }

  private file(name: string): string {
    return path.join(this.root, ...name.split('/'));
  }

  private checked: Promise<void> | undefined;

  /** The directory is there (asked once): else every request fails, as requests to a missing bucket do. */
  private ready(): Promise<void> {
    this.checked ??= stat(this.root).then(
      (st) => {
        if (!st.isDirectory()) throw new Error(`${this.root} is not a directory`);
      },
      () => {
        throw new Error(`${this.root} does not exist (is the shared disk mounted?)`);
      },
    );
    return this.checked;
  }

  async get(name: string): Promise<string | null> {
    await this.ready();
    return readFile(this.file(name), 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return null;
      throw e;
    });
  }

  async put(name: string, text: string): Promise<void> {
    await this.ready();
    await writeAtomic(this.file(name), text);
  }

  async *list(prefix: string): AsyncIterable<RemoteObject> {
    await this.ready();
    const entries = await readdir(this.root, { recursive: true, withFileTypes: true });
    for (const e of entries) {
      if (!e.isFile()) continue;
      const file = path.join(e.parentPath, e.name);
      const name = path.relative(this.root, file).split(path.sep).join('/');
      if (!name.startsWith(prefix)) continue;
      const st = await stat(file).catch(() => null);
      if (st) yield { name, modified: st.mtime, bytes: st.size };
    }
  }

  async delete(names: readonly string[]): Promise<void> {
    await this.ready();
    for (const n of names) await rm(this.file(n), { force: true });
  }

  close(): void {}
}
