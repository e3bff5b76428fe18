import { afterEach, describe, expect, it } from 'vitest';
import { Project } from './helpers/project.js';

let p: Project | undefined;
afterEach(async () => {
  await p?.remove();
  p = undefined;
});

// Seeds gone empty after a build (refused, or --allow-empty-seeds) and a project never built with seeds are
// tested in memory (workspace.build.test.ts). Here: the exit code and message of the real process.
describe('cf build from a seeds file with no seeds', () => {
  it('an emptied seeds.json is not valid JSON, also after a build (exit 2, nothing touched)', async () => {
    p = await Project.create({ seeds: 20 });
    expect((await p.cf(['build'])).code).toBe(0);
    const before = await p.read('out/pairs.json');
    await p.write('seeds.json', '');
    const r = await p.cf(['build']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cf: error: seeds.json: not valid JSON');
    expect(await p.read('out/pairs.json')).toBe(before);
  });
});
