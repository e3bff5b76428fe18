import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { processExists } from './pid.js';

/** A temporary file's name beside `file`, unique to this process and call. */
function tempBeside(file: string): string {
  return `${file}.cf-tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** A name tempBeside() made: what it is beside, and the pid of the cf that made it. */
const TEMP_NAME = /^(.*)\.cf-tmp-(\d+)-[0-9a-f]{8}$/;

/**
 * Removes the temporary files a cf that is gone left beside these files (killed while writing one: the
 * rename never came), or, for a directory given as `{ dir }`, beside any file in it. A temporary of a cf
 * that still runs is kept (it may be writing it now); so is one whose pid was reused, until that ends.
 * Returns how many were removed.
 */
export async function removeStaleTemporaries(places: ReadonlyArray<string | { dir: string }>): Promise<number> {
  const byDir = new Map<string, Set<string> | null>();
  for (const p of places) {
    if (typeof p === 'string') {
      const dir = path.dirname(p);
      const names = byDir.get(dir);
      if (names !== null) byDir.set(dir, (names ?? new Set()).add(path.basename(p)));
    } else {
      byDir.set(p.dir, null);
    }
  }
  let removed = 0;
  for (const [dir, names] of byDir) {
    for (const entry of await readdir(dir).catch(() => [] as string[])) {
      const m = TEMP_NAME.exec(entry);
      if (!m || (names && !names.has(m[1]!))) continue;
      const pid = Number(m[2]);
      if (pid === process.pid || processExists(pid)) continue;
      await rm(path.join(dir, entry), { force: true });
      removed++;
    }
  }
  return removed;
}

/** Directories this process already made: a build writes thousands of files into a few hundred. */
const made = new Set<string>();

async function ensureDir(dir: string): Promise<void> {
  if (made.has(dir)) return;
  await mkdir(dir, { recursive: true });
  made.add(dir);
}

/**
 * Writes through a temporary file in the same directory, then renames over the target, so a reader or a
 * crash sees the old file or the new one, never half of one. `durable` fsyncs before the rename.
 * (Hand-written rather than write-file-atomic: that resolves the real path, a lstat per path component, on
 * every write; a cold build writes a few files per batch.)
 */
export async function writeAtomic(file: string, data: string | Uint8Array, opts: { durable?: boolean } = {}): Promise<void> {
  await writeAtomicParts(file, [typeof data === 'string' ? Buffer.from(data) : data], opts);
}

/**
 * writeAtomic for a file given as parts (a large merge spliced from the previous file's bytes): one writev
 * of the parts into a temporary file beside the target, then a rename. Joining 20 MB of parts into one
 * buffer first costs more than the write itself.
 */
export async function writeAtomicParts(file: string, parts: readonly Uint8Array[], opts: { durable?: boolean } = {}): Promise<void> {
  await writeAtomicStream(file, parts, undefined, opts);
}

/**
 * writeAtomic for a file given as chunks, possibly a stream (a large merge, made batch by batch): chunks
 * are gathered into writes of about 1 MB, so that neither the whole file nor thousands of tiny writes are
 * needed. `seen` gets every chunk (to hash the file as it is written).
 */
export async function writeAtomicStream(
  file: string,
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  seen?: (chunk: Uint8Array) => void,
  opts: { durable?: boolean } = {},
): Promise<void> {
  await ensureDir(path.dirname(file));
  const tmp = tempBeside(file);
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(tmp, 'wx').catch(async (e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
      // The directory went away since this process made it (cf clean, a test's cleanup): make it again.
      made.delete(path.dirname(file));
      await ensureDir(path.dirname(file));
      return open(tmp, 'wx');
    });
    const out = fh;
    let pending: Uint8Array[] = [];
    let size = 0;
    const flush = async (): Promise<void> => {
      if (!pending.length) return;
      const { bytesWritten } = await out.writev(pending);
      if (bytesWritten !== size) throw new Error(`short write to ${tmp}: ${bytesWritten} of ${size} bytes`);
      pending = [];
      size = 0;
    };
    for await (const chunk of chunks) {
      seen?.(chunk);
      pending.push(chunk);
      size += chunk.length;
      if (size >= 1 << 20) await flush();
    }
    await flush();
    if (opts.durable) await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, file);
  } catch (e) {
    await fh?.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw e;
  }
}

/**
 * writeAtomic for a small file on the hot path of a build (a batch's stored output): the same temporary
 * file and rename, done synchronously. Four calls of a few microseconds each cost less than four trips
 * through libuv's thread pool, whose answers wait for the main thread while agents keep the CPUs busy.
 */
export function writeAtomicSync(file: string, data: string | Uint8Array): void {
  const dir = path.dirname(file);
  if (!made.has(dir)) {
    mkdirSync(dir, { recursive: true });
    made.add(dir);
  }
  const tmp = tempBeside(file);
  let fd: number;
  try {
    fd = openSync(tmp, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    mkdirSync(dir, { recursive: true }); // the directory went away since (cf clean, a test's cleanup)
    fd = openSync(tmp, 'wx');
  }
  let open = true;
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    open = false;
    closeSync(fd);
    renameSync(tmp, file);
  } catch (e) {
    if (open) closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * A text file, or null when it does not exist. Synchronous: for the large files a command reads once at
 * its start (the state log, the stat cache). fs/promises' readFile reads in 512 kB pieces, each a trip
 * through the thread pool, and joins them through a string decoder: several times slower at a few MB.
 */
export function readTextOrNullSync(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** The 1-based line of a character offset. */
export function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}
