/**
 * "Racily clean" (git's term): a file modified within a timestamp tick of the moment its stat was taken.
 * A second write in the same tick can leave size, mtime and inode as they were, so such a stat cannot
 * vouch for the content: it is not trusted until the file is older than the window. Used by the stat cache
 * (config/statCache.ts) and the no-op stamp (cli/noop.ts). Kept free of imports: noop.ts loads it before
 * anything else on `cf build`.
 */

/** Whole-second mtimes (FAT, some network filesystems, or a file written exactly on the second): 2 s. */
const RACY_MS = 2000;
/**
 * A file whose mtime has a sub-second part lives on a filesystem that keeps fine timestamps (ext4, xfs,
 * btrfs, tmpfs: the kernel's clock tick, a few ms): a much shorter window is safe there.
 */
const RACY_FINE_MS = 100;

/** Whether a file last modified at `mtimeNs` (ns since the epoch, as `stat(…, { bigint: true })` gives it) is too recent at `now` (ms). */
export function isRacy(mtimeNs: bigint, now: number): boolean {
  const window = mtimeNs % 1_000_000_000n === 0n ? RACY_MS : RACY_FINE_MS;
  return now - Number(mtimeNs / 1_000_000n) < window;
}
