import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadSeeds } from '../src/config/seeds.js';
import { StatCache } from '../src/config/statCache.js';
import { initHashing } from '../src/util/hash.js';

// An edited seeds file is read incrementally (the lines outside the edit keep their ids and hashes):
// whatever the edit, the result must be what reading the file from scratch gives.
const dirs: string[] = [];
beforeAll(initHashing);
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

const line = (i: number, text = `seed ${i}`): string => JSON.stringify({ id: `S${String(i).padStart(4, '0')}`, text });
const base = (n: number): string[] => Array.from({ length: n }, (_, i) => line(i + 1));

async function afterEdit(before: string, after: string) {
  const dir = await mkdtemp(path.join(tmpdir(), 'cf-seeds-'));
  dirs.push(dir);
  const cacheFile = path.join(dir, '.cf', 'stat-cache.json');
  await writeFile(path.join(dir, 'seeds.jsonl'), before);
  const first = await StatCache.load(cacheFile);
  expect((await loadSeeds(dir, 'seeds.jsonl', 'id', first)).ok).toBe(true);
  await first.save();
  await writeFile(path.join(dir, 'seeds.jsonl'), after);
  const edited = await loadSeeds(dir, 'seeds.jsonl', 'id', await StatCache.load(cacheFile));
  const fresh = await loadSeeds(dir, 'seeds.jsonl', 'id', StatCache.memory());
  return { edited, fresh };
}

describe('an edited .jsonl seeds file', () => {
  const cases: Array<[string, (l: string[]) => string[]]> = [
    ['one seed edited', (l) => l.map((x, i) => (i === 299 ? line(300, 'changed') : x))],
    ['one seed inserted', (l) => [...l.slice(0, 300), line(9999), ...l.slice(300)]],
    ['one seed deleted', (l) => l.filter((_, i) => i !== 300)],
    ['two seeds swapped far apart', (l) => l.map((x, i) => (i === 10 ? l[500]! : i === 500 ? l[10]! : x))],
    ['the first and the last edited', (l) => l.map((x, i) => (i === 0 ? line(1, 'a') : i === l.length - 1 ? line(l.length, 'z') : x))],
    ['a blank line and spaces added', (l) => [...l.slice(0, 5), '', `  ${l[5]!}  `, ...l.slice(6)]],
    ['an edit that only adds a character at the end of a line', (l) => l.map((x, i) => (i === 7 ? `${x} ` : x))],
    ['a seed appended', (l) => [...l, line(5000)]],
    ['the last seed removed', (l) => l.slice(0, -1)],
  ];
  for (const [name, edit] of cases) {
    it(`${name}: the same ids and hashes as a fresh read, and the same items`, async () => {
      const l = base(600);
      const { edited, fresh } = await afterEdit(`${l.join('\n')}\n`, `${edit(l).join('\n')}\n`);
      if (!edited.ok || !fresh.ok) throw new Error('seeds did not load');
      expect(edited.value.ids).toEqual(fresh.value.ids);
      expect(edited.value.hashes).toEqual(fresh.value.hashes);
      expect(await edited.value.range(0, 600)).toEqual(await fresh.value.range(0, 600));
    });
  }

  it('a snapshot left by a crash from another version than the cache is not compared with', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'cf-seeds-'));
    dirs.push(dir);
    const cacheFile = path.join(dir, '.cf', 'stat-cache.json');
    const l = base(100);
    const edited = l.map((x, i) => (i === 50 ? line(51, 'changed') : x));
    await writeFile(path.join(dir, 'seeds.jsonl'), `${l.join('\n')}\n`);
    const cache = await StatCache.load(cacheFile);
    await loadSeeds(dir, 'seeds.jsonl', 'id', cache);
    await cache.save();
    // The crash: the edited version's snapshot was written, the cache describing it was not.
    const { readdir } = await import('node:fs/promises');
    const [snap] = await readdir(path.join(dir, '.cf', 'snapshots'));
    await writeFile(path.join(dir, '.cf', 'snapshots', snap!), `${edited.join('\n')}\n`);
    await writeFile(path.join(dir, 'seeds.jsonl'), `${edited.join('\n')}\n`);
    const after = await loadSeeds(dir, 'seeds.jsonl', 'id', await StatCache.load(cacheFile));
    const fresh = await loadSeeds(dir, 'seeds.jsonl', 'id', StatCache.memory());
    if (!after.ok || !fresh.ok) throw new Error('seeds did not load');
    expect(after.value.hashes).toEqual(fresh.value.hashes);
  });

  it('a duplicate id made by an edit is still reported with its line', async () => {
    const l = base(50);
    const { edited } = await afterEdit(`${l.join('\n')}\n`, `${l.map((x, i) => (i === 30 ? line(3, 'again') : x)).join('\n')}\n`);
    expect(edited.ok).toBe(false);
    if (!edited.ok) expect(edited.error).toMatchObject({ line: 31, message: expect.stringContaining('duplicate seed id "S0003"') });
  });
});
