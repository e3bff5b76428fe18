import { createReadStream, readFileSync, statSync } from 'node:fs';
import { writeAtomicStream, writeAtomicSync } from './fsx.js';
import { MIN_SECRET_LENGTH, secrets, type Scrubber } from './secrets.js';

/** Files up to this size are scrubbed in memory; larger ones are streamed. */
const IN_MEMORY = 16 << 20;
const CHUNK = 1 << 20;

/**
 * Rewrites a file that holds a secret with the secret scrubbed (an agent's stdout.log, stderr.log or
 * output.json, once the agent has exited). The bytes are compared as bytes, so a file that is not text is
 * rewritten only where a secret is. Returns true when the file was rewritten. A small file is read and
 * written synchronously (as the other small files of an attempt: microseconds, no trips through the
 * thread pool while agents keep the CPUs busy); a large one is streamed.
 */
export async function scrubFile(file: string, s: Scrubber = secrets(), limits: { inMemory: number; chunk: number } = { inMemory: IN_MEMORY, chunk: CHUNK }): Promise<boolean> {
  if (s.empty) return false;
  let size: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) return false;
    size = st.size;
  } catch {
    return false;
  }
  if (size < MIN_SECRET_LENGTH) return false;
  if (size <= limits.inMemory) {
    const scrubbed = s.scrubBytes(readFileSync(file));
    if (scrubbed) writeAtomicSync(file, scrubbed);
    return scrubbed !== null;
  }
  // A large file: read once to find a secret (most hold none), and once more to rewrite it.
  let found = false;
  for await (const chunk of s.scrubStream(createReadStream(file, { highWaterMark: limits.chunk }))) {
    if (chunk.changed) {
      found = true;
      break;
    }
  }
  if (!found) return false;
  await writeAtomicStream(file, bytesOf(s.scrubStream(createReadStream(file, { highWaterMark: limits.chunk }))));
  return true;
}

async function* bytesOf(chunks: AsyncIterable<{ bytes: Buffer }>): AsyncGenerator<Buffer> {
  for await (const c of chunks) yield c.bytes;
}
