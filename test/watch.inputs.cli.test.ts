import { afterEach, describe, expect, it } from 'vitest';
import { Project, seedsJson } from './helpers/project.js';
import { Lines, stopAll, Watch } from './helpers/watch.js';

let p: Project | undefined;
let w: Watch | undefined;
let proc: ReturnType<Project['spawn']> | undefined;
afterEach(async () => {
  await stopAll([w?.proc, proc], p);
  p = undefined;
  w = undefined;
  proc = undefined;
});

// --max-cost across a watch session's rebuilds is tested in memory (workspace.watch.test.ts).
describe('cf watch: input it cannot build from', () => {
  it('a seeds file saved empty or unparsable is not ready: reported (--json: an error event), no output touched, built at the next good save', async () => {
    p = await Project.create({ seeds: 40 });
    w = new Watch(p.spawn(['watch', '--json']));
    await w.rebuild();
    const before = await p.read('out/pairs.json');

    await p.save('seeds.json', '');
    expect((await w.until((e) => e.event === 'error')).at(-1)).toMatchObject({ kind: 'seeds', file: 'seeds.json', message: expect.stringContaining('not valid JSON') });
    expect(await p.read('out/pairs.json')).toBe(before);

    await p.save('seeds.json', '[]\n');
    expect((await w.until((e) => e.event === 'error')).at(-1)).toMatchObject({ kind: 'seeds', file: 'seeds.json', message: expect.stringContaining('holds no seeds') });
    expect(await p.read('out/pairs.json')).toBe(before);

    await p.save('seeds.json', seedsJson(40, (i) => (i === 25 ? 'an edited seed' : `seed number ${i}`)));
    const r = await w.rebuild();
    expect(r.changed).toEqual(['seeds.json']);
    expect(r.ran).toEqual(['legos#2', 'pairs#2']);
    expect(w.seen.filter((e) => e.event === 'summary')).toHaveLength(2);
  });

  it('files changed while the seeds were broken are named in the next rebuild line, and their changes are built', async () => {
    p = await Project.create({ seeds: 40 });
    const out = new Lines((proc = p.spawn(['watch'])));
    await out.until((l) => l.includes('initial build'));
    await p.save('seeds.json', '[{"id": "S0001", ');
    const broken = await out.until((l) => l === 'cf watch: nothing built; waiting for the next change');
    expect(broken.join('\n')).toMatch(/^cf: error: seeds\.json(:\d+)?: not valid JSON/m);
    await p.save('prompts/pairs.md', '# Pairs\nTranslate each seed, with care.\n');
    await out.until((l) => l === 'cf watch: nothing built; waiting for the next change');
    await p.save('seeds.json', seedsJson(40, (i) => (i === 25 ? 'an edited seed' : `seed number ${i}`)));
    const line = await out.next();
    expect(line).toMatch(/^\d\d:\d\d:\d\d seeds\.json, prompts\/pairs\.md changed: ran /);
    // Both batches of pairs (the intelligence), legos#2 (S0025); legos#1's input came out the same.
    expect(line).toMatch(/; 3 ran, 1 fresh in /);
    expect(line).toContain('legos#2');
  });

  it('a target that a pipeline.yaml edit removes is reported and the watch goes on; restoring it builds again', async () => {
    p = await Project.create({ seeds: 40 });
    w = new Watch(p.spawn(['watch', '--json', 'legos']));
    expect((await w.rebuild()).ran).toHaveLength(4);
    const good = await p.read('pipeline.yaml');
    await p.save('pipeline.yaml', good.replace('name: legos', 'name: lego_pairs'));
    expect((await w.until((e) => e.event === 'error')).at(-1)).toMatchObject({ kind: 'usage', message: expect.stringContaining('"legos"') });
    await p.save('seeds.json', seedsJson(40, (i) => (i === 25 ? 'an edited seed' : `seed number ${i}`)));
    expect((await w.until((e) => e.event === 'error')).at(-1)).toMatchObject({ kind: 'usage' });
    await p.save('pipeline.yaml', good);
    const back = await w.rebuild();
    expect(back.changed).toEqual(['pipeline.yaml', 'seeds.json']);
    expect(back.ran).toEqual(['legos#2', 'pairs#2']);
    expect(w.seen.filter((e) => e.event === 'summary')).toHaveLength(2);
  });
});
