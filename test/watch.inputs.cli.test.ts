import { chmod, copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Project, REPO, seedsJson } from './helpers/project.js';
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

describe('cf watch: input it cannot build from', () => {
  it('a seeds file saved empty or unparsable is not ready: reported (--json: an error event), no output touched, built at the next good save', async () => {
    p = await Project.create({ seeds: 60 });
    w = new Watch(p.spawn(['watch', '--json']));
    await w.rebuild();
    const before = await p.read('out/pairs.json');

    await p.save('seeds.json', '');
    expect((await w.until((e) => e.event === 'error')).at(-1)).toMatchObject({ kind: 'seeds', file: 'seeds.json', message: expect.stringContaining('not valid JSON') });
    expect(await p.read('out/pairs.json')).toBe(before);

    await p.save('seeds.json', '[]\n');
    expect((await w.until((e) => e.event === 'error')).at(-1)).toMatchObject({ kind: 'seeds', file: 'seeds.json', message: expect.stringContaining('holds no seeds') });
    expect(await p.read('out/pairs.json')).toBe(before);

    await p.save('seeds.json', seedsJson(60, (i) => (i === 25 ? 'an edited seed' : `seed number ${i}`)));
    const r = await w.rebuild();
    expect(r.changed).toEqual(['seeds.json']);
    expect(r.ran).toEqual(['legos#2', 'pairs#2']);
    expect(w.seen.filter((e) => e.event === 'summary')).toHaveLength(2);
  });

  it('files changed while the seeds were broken are named in the next rebuild line, and their changes are built', async () => {
    p = await Project.create({ seeds: 60 });
    const out = new Lines((proc = p.spawn(['watch'])));
    await out.until((l) => l.includes('initial build'));
    await p.save('seeds.json', '[{"id": "S0001", ');
    const broken = await out.until((l) => l === 'cf watch: nothing built; waiting for the next change');
    expect(broken.join('\n')).toMatch(/^cf: error: seeds\.json(:\d+)?: not valid JSON/m);
    await p.save('prompts/pairs.md', '# Pairs\nTranslate each seed, with care.\n');
    await out.until((l) => l === 'cf watch: nothing built; waiting for the next change');
    await p.save('seeds.json', seedsJson(60, (i) => (i === 25 ? 'an edited seed' : `seed number ${i}`)));
    const line = await out.next();
    expect(line).toMatch(/^\d\d:\d\d:\d\d seeds\.json, prompts\/pairs\.md changed: ran /);
    expect(line).toMatch(/; 4 ran, 2 fresh in /);
    expect(line).toContain('legos#2');
  });

  it('a target that a pipeline.yaml edit removes is reported and the watch goes on; restoring it builds again', async () => {
    p = await Project.create({ seeds: 60 });
    w = new Watch(p.spawn(['watch', '--json', 'legos']));
    expect((await w.rebuild()).ran).toHaveLength(6);
    const good = await p.read('pipeline.yaml');
    await p.save('pipeline.yaml', good.replace('name: legos', 'name: lego_pairs'));
    expect((await w.until((e) => e.event === 'error')).at(-1)).toMatchObject({ kind: 'usage', message: expect.stringContaining('"legos"') });
    await p.save('seeds.json', seedsJson(60, (i) => (i === 25 ? 'an edited seed' : `seed number ${i}`)));
    expect((await w.until((e) => e.event === 'error')).at(-1)).toMatchObject({ kind: 'usage' });
    await p.save('pipeline.yaml', good);
    const back = await w.rebuild();
    expect(back.changed).toEqual(['pipeline.yaml', 'seeds.json']);
    expect(back.ran).toEqual(['legos#2', 'pairs#2']);
    expect(w.seen.filter((e) => e.event === 'summary')).toHaveLength(2);
  });

  it('--max-cost is the budget of the whole watch session, not of each rebuild', async () => {
    const pipeline = `seeds: seeds.json
batch_size: 10
runners:
  claude: {preset: claude-code, model: claude-sonnet-4-5}
phases:
  - name: pairs
    intelligence: prompts/pairs.md
    runner: claude
    output: out/pairs.json
`;
    p = await Project.create({ seeds: 20, pipeline });
    await mkdir(p.file('bin'));
    await copyFile(path.join(REPO, 'test/fixtures/fake-claude.mjs'), p.file('bin/claude'));
    await chmod(p.file('bin/claude'), 0o755);
    const env = { PATH: `${p.file('bin')}:${process.env.PATH}`, FAKE_CLAUDE_LOG: p.file('claude.log') };
    // One attempt costs $0.0125: $0.03 pays for the first build's two, not for a third.
    w = new Watch(p.spawn(['watch', '--json', '-j', '1', '--max-cost', '0.03'], env));
    const first = await w.rebuild();
    expect(first.ran).toEqual(['pairs#1', 'pairs#2']);
    await p.editSeed('S0005', 'an edited seed');
    const second = await w.rebuild();
    expect(second.ran).toEqual([]);
    expect(second.summary).toMatchObject({ stopped: ['pairs#1'], maxCost: 0.03 });
    const spent = [first, second].reduce((n, r) => n + Object.values(r.summary.usage as Record<string, { costUsd: number }>).reduce((m, u) => m + u.costUsd, 0), 0);
    expect(spent).toBeLessThanOrEqual(0.03);
  });
});
