import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { clearNoopStamp, noopFastPath, writeNoopStamp } from '../src/cli/noop.js';
import { storeLayout } from '../src/store/layout.js';
import { hashFileContent, initHashing } from '../src/util/hash.js';
import { withTempDir } from './helpers/tempDir.js';

/*
 * The no-op fast path's decisions (src/cli/noop.ts), on files in a temporary directory: when an unchanged
 * tree is answered from the stamp, and when any change takes the full path. Moved from build.cli's
 * "an unchanged tree is answered from its stat stamp" (which keeps the end-to-end run once).
 */

beforeAll(async () => {
  await initHashing();
});

const FILES = ['seeds.json', 'prompts/pairs.md', 'pipeline.yaml', 'out/pairs.json'];
const OWN = ['.cf/records.log'];
const TARGETS = ['pairs'];
const CF = 'test-1';
const FRESH = ['pairs#1', 'pairs#2'];

/** Files written more than 2 s ago are trusted by their stat: they are aged instead of waited for. */
async function age(dir: string, rel: string, secondsAgo: number): Promise<void> {
  const t = new Date(Date.now() - secondsAgo * 1000);
  await utimes(path.join(dir, rel), t, t);
}

async function put(dir: string, rel: string, text: string, secondsAgo: number | null = 60): Promise<void> {
  await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
  await writeFile(path.join(dir, rel), text);
  if (secondsAgo !== null) await age(dir, rel, secondsAgo);
}

/** A built tree, stamped as cf build stamps it: content hashes known for every file it read or wrote. */
async function stamped(dir: string): Promise<void> {
  for (const f of FILES) await put(dir, f, `${f} v1\n`);
  await put(dir, OWN[0]!, '{"t":"batch"}\n');
  await writeNoopStamp(dir, TARGETS, CF, FILES, OWN, FRESH, (f) => hashFileContent(readFileSync(path.join(dir, f))));
}

const fast = (dir: string, targets = TARGETS, cf = CF): Promise<string[] | null> => noopFastPath(dir, targets, cf);

describe('the no-op stamp (cf build with nothing to do)', () => {
  it('an unchanged tree is answered from the stamp: the fresh targets; another target list or another cf is not', async () => {
    await withTempDir('noop', async (dir) => {
      await stamped(dir);
      expect(await fast(dir)).toEqual(FRESH);
      expect(await fast(dir)).toEqual(FRESH);
      expect(await fast(dir, ['pairs#1'])).toBeNull();
      expect(await fast(dir, TARGETS, 'test-2')).toBeNull();
      await clearNoopStamp(dir);
      expect(await fast(dir)).toBeNull();
    });
  });

  it('touched, or saved with the same content: answered by the content hash, and stamped again so it is not hashed again', async () => {
    await withTempDir('noop', async (dir) => {
      await stamped(dir);
      await age(dir, 'seeds.json', 30);
      await age(dir, 'out/pairs.json', 30);
      await put(dir, 'prompts/pairs.md', 'prompts/pairs.md v1\n', 30);
      expect(await fast(dir)).toEqual(FRESH);
      const stamp = JSON.parse(await readFile(storeLayout(dir).noopStamp, 'utf8')) as { files: Array<[string, number, string]> };
      const seeds = stamp.files.find((f) => f[0] === 'seeds.json')!;
      const { stat } = await import('node:fs/promises');
      expect(seeds[2]).toBe(String((await stat(path.join(dir, 'seeds.json'), { bigint: true })).mtimeNs));
      expect(await fast(dir)).toEqual(FRESH);
    });
  });

  it('the same size with another content, a file gone, a file that appeared, or a change to cf\'s own files: the full path', async () => {
    for (const change of [
      (dir: string) => put(dir, 'prompts/pairs.md', 'prompts/pairs.md v2\n', 20),
      (dir: string) => rm(path.join(dir, 'out/pairs.json')),
      (dir: string) => put(dir, OWN[0]!, '{"t":"batch"}\n{"t":"batch"}\n'),
      // The state log has no content hash: any change to its stat is a change.
      (dir: string) => age(dir, OWN[0]!, 10),
    ]) {
      await withTempDir('noop', async (dir) => {
        await stamped(dir);
        await change(dir);
        expect(await fast(dir)).toBeNull();
      });
    }
    await withTempDir('noop', async (dir) => {
      for (const f of FILES) await put(dir, f, `${f} v1\n`);
      await writeNoopStamp(dir, TARGETS, CF, [...FILES, 'absent.json'], OWN, FRESH);
      expect(await fast(dir)).toEqual(FRESH);
      await put(dir, 'absent.json', '[]');
      expect(await fast(dir)).toBeNull();
    });
  });

  it('a file modified within a timestamp tick of the stamp is not trusted: no stamp is written', async () => {
    await withTempDir('noop', async (dir) => {
      await stamped(dir);
      await put(dir, 'seeds.json', 'seeds.json v1\n', null);
      await writeNoopStamp(dir, TARGETS, CF, FILES, OWN, FRESH);
      expect(existsSync(storeLayout(dir).noopStamp)).toBe(false);
      expect(await fast(dir)).toBeNull();
    });
  });
});
