import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * Writes through a temporary file in the same directory, then renames over the target, so a reader or a
 * crash sees the old file or the new one, never half of one. `durable` fsyncs before the rename.
 */
export async function writeAtomic(file: string, data: string, opts: { durable?: boolean } = {}): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const { default: writeFileAtomic } = await import('write-file-atomic');
  await writeFileAtomic(file, data, { fsync: opts.durable ?? false });
}

export async function readTextOrNull(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
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
