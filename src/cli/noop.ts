import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { writeAtomic } from '../util/fsx.js';

/**
 * The no-op fast path, as ninja stats its inputs and stops: after a build that ended with everything
 * up to date, a stamp records the stat (size, mtime, inode) of every file the build reads or writes
 * and the state log's. The next `cf build` with the same targets that finds every stat unchanged has
 * nothing to do: it answers without loading the pipeline, the state or any hashing. A file modified
 * less than a timestamp tick before the stamp is never trusted (a second write in the same tick could
 * hide; see RACY_MS), and any difference at all takes the full path, which decides by content.
 *
 * Kept free of heavy imports: this module is loaded before anything else on `cf build`.
 */
const RACY_MS = 2000;
/**
 * A file whose mtime has a sub-second part lives on a filesystem that keeps fine timestamps (ext4, xfs,
 * btrfs, tmpfs: the kernel's clock tick, a few ms): a much shorter window is safe there. Whole-second mtimes
 * (FAT, some network filesystems, or a file written exactly on the second) keep the 2 s window.
 */
const RACY_FINE_MS = 100;
const VERSION = 1;
const STAMP = path.join('.cf', 'noop.json');

type FileStat = [string, number, string, number] | [string, null];

interface Stamp {
  v: number;
  cf: string;
  targets: string[];
  files: FileStat[];
  fresh: string[];
}

function statOf(file: string): FileStat {
  try {
    const st = statSync(file, { bigint: true });
    return [file, Number(st.size), String(st.mtimeNs), Number(st.ino)];
  } catch {
    return [file, null];
  }
}

/** The fresh targets, when nothing changed since the stamp; null to take the full path. */
export function noopFastPath(dir: string, targets: string[], cf: string): string[] | null {
  let stamp: Stamp;
  try {
    stamp = JSON.parse(readFileSync(path.join(dir, STAMP), 'utf8')) as Stamp;
  } catch {
    return null;
  }
  if (stamp.v !== VERSION || stamp.cf !== cf || JSON.stringify(stamp.targets) !== JSON.stringify(targets)) return null;
  for (const f of stamp.files) {
    const now = statOf(path.resolve(dir, f[0]));
    if (JSON.stringify(now) !== JSON.stringify([now[0], ...f.slice(1)])) return null;
  }
  return stamp.fresh;
}

/**
 * After a build that left its targets up to date: stamp the files it read and wrote (`files`, relative
 * to dir) and cf's own (`own`: the state log). No stamp when a file changed too recently to trust its mtime.
 */
export async function writeNoopStamp(dir: string, targets: string[], cf: string, files: string[], own: string[], fresh: string[]): Promise<void> {
  const stat = (f: string): FileStat => [f, ...statOf(path.resolve(dir, f)).slice(1)] as FileStat;
  const stats = files.map(stat);
  const now = Date.now();
  for (const s of stats) {
    if (s[1] === null) continue;
    const ns = BigInt(s[2]);
    const window = ns % 1_000_000_000n === 0n ? RACY_MS : RACY_FINE_MS;
    if (now - Number(ns / 1_000_000n) < window) return clearNoopStamp(dir);
  }
  // cf's own files (the state log): any write changes their size or inode; no racy window to fear.
  stats.push(...own.map(stat));
  const stamp: Stamp = { v: VERSION, cf, targets, files: stats, fresh };
  await writeAtomic(path.join(dir, STAMP), JSON.stringify(stamp));
}

export async function clearNoopStamp(dir: string): Promise<void> {
  const { rm } = await import('node:fs/promises');
  await rm(path.join(dir, STAMP), { force: true });
}
