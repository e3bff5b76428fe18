import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { hashOf, type OutputStore } from '../store/outputs.js';
import { hashString, type Hash } from '../util/hash.js';

/**
 * The merged outputs cf watch writes come back to it as file events. Each is recognised by the content
 * hash cf wrote (noted when the write starts, so there is no race): an event whose file still holds that
 * content is cf's own write, not a change; a hand edit after it is.
 */
export class OwnWrites {
  /** Per file, the hash cf wrote (a streamed merge's is known when the write ends: events wait for it). */
  private readonly written = new Map<string, Promise<Hash | null>>();

  constructor(private readonly dir: string) {}

  /** The store to write merged outputs through. */
  wrap(disk: OutputStore): OutputStore {
    return {
      stamp: (rel) => disk.stamp(rel),
      read: (rel) => disk.read(rel),
      readBytes: (rel) => disk.readBytes(rel),
      openBytes: (rel) => disk.openBytes(rel),
      preserve: (rel) => disk.preserve(rel),
      remove: (rel) => disk.remove(rel),
      write: (rel, data) => {
        this.written.set(path.resolve(this.dir, rel), Promise.resolve(hashOf(data)));
        return disk.write(rel, data);
      },
      writeStream: (rel, chunks) => {
        const done = disk.writeStream(rel, chunks);
        this.written.set(
          path.resolve(this.dir, rel),
          done.then((f) => f.hash, () => null),
        );
        return done;
      },
    };
  }

  async isOwn(file: string): Promise<boolean> {
    const own = await this.written.get(file);
    if (own === undefined || own === null) return false;
    const text = await readFile(file, 'utf8').catch(() => null);
    return text !== null && hashString(text) === own;
  }
}
