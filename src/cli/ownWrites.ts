import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { hashOf, type OutputStore } from '../graph/outputs.js';
import { hashString, type Hash } from '../util/hash.js';

/**
 * The merged outputs cf watch writes come back to it as file events. Each is recognised by the content
 * hash cf wrote (noted before the write, so there is no race): an event whose file still holds that
 * content is cf's own write, not a change; a hand edit after it is.
 */
export class OwnWrites {
  private readonly written = new Map<string, Hash>();

  constructor(private readonly dir: string) {}

  /** The store to write merged outputs through. */
  wrap(disk: OutputStore): OutputStore {
    return {
      stamp: (rel) => disk.stamp(rel),
      read: (rel) => disk.read(rel),
      readBytes: (rel) => disk.readBytes(rel),
      preserve: (rel) => disk.preserve(rel),
      write: (rel, data) => {
        this.written.set(path.resolve(this.dir, rel), hashOf(data));
        return disk.write(rel, data);
      },
    };
  }

  async isOwn(file: string): Promise<boolean> {
    const own = this.written.get(file);
    if (own === undefined) return false;
    const text = await readFile(file, 'utf8').catch(() => null);
    return text !== null && hashString(text) === own;
  }
}
