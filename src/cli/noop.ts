import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { storeLayout } from '../store/layout.js';
import { writeAtomic } from '../util/fsx.js';
import { isRacy } from '../util/racy.js';

/**
 * The no-op fast path, as ninja stats its inputs and stops: after a build that ended with everything
 * up to date, a stamp records the stat (size, mtime, inode) of every file the build reads or writes
 * and the state log's, with the content hash cf already knew for each (the stat cache's for inputs, the
 * merge record's for outputs). The next `cf build` with the same targets that finds every stat unchanged
 * has nothing to do: it answers without loading the pipeline, the state or any hashing. A file whose stat
 * changed but whose size did not (touched, or saved unchanged) is hashed: the same content is still
 * nothing to do, as make and ninja cannot tell. A file modified less than a timestamp tick before the
 * stamp is never trusted (a second write in the same tick could hide; see util/racy.ts), and any other
 * difference takes the full path, which decides by content.
 *
 * Kept free of heavy imports: this module is loaded before anything else on `cf build`.
 */
const VERSION = 3;

/** [file, size, mtimeNs, ino, content hash when known] or [file, null] when it does not exist. */
type FileStat = [string, number, string, number, string?] | [string, null];

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
export async function noopFastPath(dir: string, targets: string[], cf: string): Promise<string[] | null> {
  let stamp: Stamp;
  try {
    stamp = JSON.parse(readFileSync(storeLayout(dir).noopStamp, 'utf8')) as Stamp;
  } catch {
    return null;
  }
  if (stamp.v !== VERSION || stamp.cf !== cf || JSON.stringify(stamp.targets) !== JSON.stringify(targets)) return null;
  let restamp = false;
  for (const f of stamp.files) {
    const abs = path.resolve(dir, f[0]);
    const now = statOf(abs);
    if (now[1] === f[1] && (now[1] === null || (now[2] === f[2] && now[3] === f[3]))) continue;
    // Touched or saved unchanged: the same size, and the same content when hashed.
    if (now[1] === null || f[1] === null || now[1] !== f[1] || !f[4] || (await contentHash(abs)) !== f[4]) return null;
    if (!isRacy(BigInt(now[2]), Date.now())) {
      f.splice(1, 3, now[1], now[2], now[3]);
      restamp = true;
    }
  }
  // What was hashed is stamped with its new stat, so the next build does not hash it again.
  if (restamp) await writeAtomic(storeLayout(dir).noopStamp, JSON.stringify(stamp)).catch(() => undefined);
  return stamp.fresh;
}

/** A file's content hash as the stat cache computes it (hashing is loaded only when a file is hashed). */
async function contentHash(abs: string): Promise<string | null> {
  const { initHashing, hashFileContent } = await import('../util/hash.js');
  await initHashing();
  let bytes: Buffer;
  try {
    bytes = readFileSync(abs);
  } catch {
    return null;
  }
  return hashFileContent(bytes);
}

/**
 * After a build that left its targets up to date: stamp the files it read and wrote (`files`, relative
 * to dir) with the content hashes known for them (`hashOf`: null when none is), and cf's own (`own`: the
 * state log). No stamp when a file changed too recently to trust its mtime.
 */
export async function writeNoopStamp(
  dir: string,
  targets: string[],
  cf: string,
  files: string[],
  own: string[],
  fresh: string[],
  hashOf: (file: string, stat: { size: number; mtimeNs: string; ino: number }) => string | null = () => null,
): Promise<void> {
  const stat = (f: string): FileStat => [f, ...statOf(path.resolve(dir, f)).slice(1)] as FileStat;
  const stats = files.map(stat);
  const now = Date.now();
  for (const s of stats) {
    if (s[1] === null) continue;
    if (isRacy(BigInt(s[2]), now)) return clearNoopStamp(dir);
    const hash = hashOf(s[0], { size: s[1], mtimeNs: s[2], ino: s[3] });
    if (hash) s[4] = hash;
  }
  // cf's own files (the state log): any write changes their size or inode; no racy window to fear.
  stats.push(...own.map(stat));
  const stamp: Stamp = { v: VERSION, cf, targets, files: stats, fresh };
  await writeAtomic(storeLayout(dir).noopStamp, JSON.stringify(stamp));
}

export async function clearNoopStamp(dir: string): Promise<void> {
  const { rm } = await import('node:fs/promises');
  await rm(storeLayout(dir).noopStamp, { force: true });
}
