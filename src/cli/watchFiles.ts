import { existsSync } from 'node:fs';
import path from 'node:path';
import type { FSWatcher } from 'chokidar';

/**
 * The files cf watch reacts to (absolute paths), through chokidar. chokidar is given the directories of
 * the watched files (depth 0, everything else ignored), not the files: given files in several directories,
 * it misses a deleted file's re-creation, and a missing path (an output not built yet) makes it miss more.
 * Directories that do not exist yet are added by `add` once they do (call it after each rebuild).
 *
 * Changes are taken from chokidar's raw events of those directories (every change the system reports
 * for a file in them, at once), not from its change events: chokidar drops a file's change events for
 * 50 ms after one it reports, with no trailing event, so the end of a save burst (a seeds file written
 * after it was truncated) could go unseen, and what was read half-written would stay the last word.
 */
export class WatchedFiles {
  private wanted = new Set<string>();
  private readonly dirs = new Set<string>();

  private constructor(private watcher: FSWatcher | null) {}

  static async start(files: string[], onEvent: (file: string) => void): Promise<WatchedFiles> {
    const self = new WatchedFiles(null);
    self.wanted = new Set(files);
    const initial = self.newDirs();
    const { watch } = await import('chokidar');
    const watcher = watch(initial, {
      ignoreInitial: true,
      depth: 0,
      ignored: (p) => !self.wanted.has(p) && !self.dirs.has(p),
    });
    self.watcher = watcher;
    watcher.on('raw', (_event, name, details) => {
      const dir = (details as { watchedPath?: string } | undefined)?.watchedPath;
      if (typeof name !== 'string' || !name || !dir || !self.dirs.has(path.resolve(dir))) return;
      const file = path.resolve(dir, name);
      if (self.wanted.has(file)) onEvent(file);
    });
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
    return self;
  }

  get size(): number {
    return this.wanted.size;
  }

  /** Watches these files too (a pipeline.yaml edit may name new ones), and directories made since. */
  add(files: string[]): void {
    for (const f of files) this.wanted.add(f);
    const dirs = this.newDirs();
    if (dirs.length) this.watcher?.add(dirs);
  }

  async close(): Promise<void> {
    await this.watcher?.close();
  }

  /** Directories of wanted files that exist and are not watched yet (marked watched). */
  private newDirs(): string[] {
    const out = [...new Set([...this.wanted].map((f) => path.dirname(f)))].filter((d) => !this.dirs.has(d) && existsSync(d));
    for (const d of out) this.dirs.add(d);
    return out;
  }
}
