import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { StatCache } from '../src/config/statCache.js';
import { initHashing } from '../src/util/hash.js';
import { isRacy } from '../src/util/racy.js';

/** One rule for "modified too recently to trust its mtime", shared by the stat cache and the no-op stamp. */
const MS = 1_000_000n;
const now = 1_700_000_000_000; // a whole second, in ms

describe('isRacy', () => {
  it('a fine (sub-second) mtime is trusted after 100 ms', () => {
    expect(isRacy(BigInt(now - 50) * MS + 123n, now)).toBe(true);
    expect(isRacy(BigInt(now - 150) * MS + 123n, now)).toBe(false);
  });
  it('a whole-second mtime (a coarse filesystem) is trusted only after 2 s', () => {
    expect(isRacy(BigInt(now - 1000) * MS, now)).toBe(true);
    expect(isRacy(BigInt(now - 3000) * MS, now)).toBe(false);
  });
});

describe('the stat cache', () => {
  let dir: string;
  beforeAll(initHashing);
  afterEach(() => rm(dir, { recursive: true, force: true }));

  /** Whether the second hashFile of a file with this mtime read the file again (an untrusted stat). */
  async function rereads(mtimeSeconds: number): Promise<boolean> {
    dir = await mkdtemp(path.join(tmpdir(), 'cf-racy-'));
    const file = path.join(dir, 'seeds.txt');
    await writeFile(file, 'one\n');
    await utimes(file, mtimeSeconds, mtimeSeconds);
    const cache = StatCache.memory();
    expect((await cache.hashFile(file))?.text).toBe('one\n');
    return (await cache.hashFile(file))?.text !== undefined;
  }

  it('trusts the stat of a file modified half a second before it was hashed, on a filesystem with fine mtimes', async () => {
    expect(await rereads(Date.now() / 1000 - 0.5123)).toBe(false);
  });
  it('re-reads a file whose whole-second mtime is less than 2 s old', async () => {
    expect(await rereads(Math.floor(Date.now() / 1000))).toBe(true);
  });
});
