import { afterEach, describe, expect, it } from 'vitest';
import { Project } from './helpers/project.js';

let p: Project | undefined;
afterEach(async () => {
  await p?.remove();
  p = undefined;
});

describe('cf build from a seeds file with no seeds', () => {
  it('refuses (exit 2, nothing touched) when the outputs hold items; --allow-empty-seeds builds it', async () => {
    p = await Project.create({ seeds: 60 });
    expect((await p.cf(['build'])).code).toBe(0);
    const before = { pairs: await p.read('out/pairs.json'), log: await p.read('.cf/records.log') };
    await p.write('seeds.json', '[]\n');
    const r = await p.cf(['build']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cf: error: seeds.json: holds no seeds, but out/pairs.json (60 items), out/legos.json (60 items) were built from some');
    expect(r.stderr).toContain('cf build --allow-empty-seeds');
    expect(await p.read('out/pairs.json')).toBe(before.pairs);
    expect(await p.read('.cf/records.log')).toBe(before.log);
    const meant = await p.cf(['build', '--allow-empty-seeds']);
    expect(meant.code).toBe(0);
    expect(JSON.parse(await p.read('out/pairs.json'))).toEqual([]);
  });

  it('an emptied seeds.json is not valid JSON, also after a build (exit 2, nothing touched)', async () => {
    p = await Project.create({ seeds: 60 });
    expect((await p.cf(['build'])).code).toBe(0);
    const before = await p.read('out/pairs.json');
    await p.write('seeds.json', '');
    const r = await p.cf(['build']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cf: error: seeds.json: not valid JSON');
    expect(await p.read('out/pairs.json')).toBe(before);
  });

  it('a project never built with seeds builds from none without asking', async () => {
    p = await Project.create({ seeds: 0 });
    const r = await p.cf(['build']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(await p.read('out/pairs.json'))).toEqual([]);
  });
});
