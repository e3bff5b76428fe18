import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { FSWatcher } from 'chokidar';

/**
 * chokidar drops a file's change events for 50 ms after the one it reports (it throttles, and sends no
 * trailing event): the end of a save burst can go unreported. A stat this long after the last reported
 * event finds such a change.
 */
const RECHECK_MS = 60;

/** What a change of content changes: size, mtime, inode (not ctime: a chmod is no change). */
async function statKey(file: string): Promise<string> {
  const st = await stat(file, { bigint: true }).catch(() => null);
  return st ? `${st.size}:${st.mtimeNs}:${st.ino}` : 'missing';
}

/**
 * The files cf watch reacts to (absolute paths), through chokidar. chokidar is given the directories of
 * the watched files (depth 0, everything else ignored), not the files: given files in several directories,
 * it misses a deleted file's re-creation, and a missing path (an output not built yet) makes it miss more.
 * Directories that do not exist yet are added by `add` once they do (call it after each rebuild).
 * Every change is reported, also one chokidar throttled away (see RECHECK_MS).
 */
export class WatchedFiles {
  private wanted = new Set<string>();
  private readonly dirs = new Set<string>();
  private readonly rechecks = new Map<string, NodeJS.Timeout>();

  private constructor(private watcher: FSWatcher | null) {}

  static async start(files: string[], onEvent: (file: string) => void): Promise<WatchedFiles> {
    const self = new WatchedFiles(null);
    self.wanted = new Set(files);
    const initial = self.newDirs();
    const { watch } = await import('chokidar');
    const watcher = watch(initial, {
      ignoreInitial: true,
      atomic: true,
      depth: 0,
      ignored: (p) => !self.wanted.has(p) && !self.dirs.has(p),
    });
    self.watcher = watcher;
    watcher.on('all', (_event, file) => {
      const abs = path.resolve(file);
      onEvent(abs);
      void self.recheck(abs, onEvent);
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
    for (const t of this.rechecks.values()) clearTimeout(t);
    this.rechecks.clear();
    await this.watcher?.close();
  }

  /** After a reported event: a later change that chokidar did not report is reported (and checked for again). */
  private async recheck(file: string, onEvent: (file: string) => void): Promise<void> {
    const seen = await statKey(file);
    clearTimeout(this.rechecks.get(file));
    const timer = setTimeout(() => {
      void statKey(file).then((now) => {
        if (this.rechecks.get(file) !== timer) return;
        this.rechecks.delete(file);
        if (now === seen) return;
        onEvent(file);
        void this.recheck(file, onEvent);
      });
    }, RECHECK_MS);
    timer.unref();
    this.rechecks.set(file, timer);
  }

  /** Directories of wanted files that exist and are not watched yet (marked watched). */
  private newDirs(): string[] {
    const out = [...new Set([...this.wanted].map((f) => path.dirname(f)))].filter((d) => !this.dirs.has(d) && existsSync(d));
    for (const d of out) this.dirs.add(d);
    return out;
  }
}
