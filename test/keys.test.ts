import { cp } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadInputs } from '../src/app/inputs.js';
import { LocalStore } from '../src/store/localStore.js';
import { Project, TWO_PHASES } from './helpers/project.js';
import { withTempDir } from './helpers/tempDir.js';

/** The key of batch 1 of each phase, as a build in this directory would compute it. */
async function keys(dir: string): Promise<string[]> {
  const inputs = await loadInputs(dir);
  if (!inputs.ok) throw new Error(JSON.stringify(inputs.error));
  const d = inputs.value.decider(LocalStore.memory());
  return d.graph.phases.map((p) => d.keyFor(p, d.seedRefs(1)));
}

describe('keys do not depend on the machine or the checkout', () => {
  it('two checkouts of the same course at different paths compute the same keys (claude-code preset included)', async () => {
    const claude = TWO_PHASES().replace(/ {2}fake:\n {4}command: \[node, "[^"]+"\]/, '  fake:\n    preset: claude-code\n    model: claude-sonnet-5-5');
    expect(claude).toContain('preset: claude-code');
    const p = await Project.create({ seeds: 40, pipeline: claude });
    try {
      await withTempDir('elsewhere', async (other) => {
        const copy = path.join(other, 'deeper', 'course');
        await cp(p.dir, copy, { recursive: true });
        const here = await keys(p.dir);
        expect(await keys(copy)).toEqual(here);
        // Another course (a changed seed) keys differently: the comparison can fail.
        await p.editSeed('S0001', 'changed');
        expect(await keys(p.dir)).not.toEqual(here);
      });
    } finally {
      await p.remove();
    }
  });
});
