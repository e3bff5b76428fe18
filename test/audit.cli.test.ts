import { existsSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { Project, TWO_PHASES } from './helpers/project.js';

let p: Project | undefined;
afterEach(async () => {
  await p?.remove();
  p = undefined;
});

describe('the edges of cf build, through the real CLI', () => {
  it('a stored output deleted by hand is built again, even when nothing else changed (no-op fast path included)', async () => {
    p = await Project.create({ seeds: 40 });
    expect((await p.cf(['build'])).code).toBe(0);
    expect((await p.cf(['build'])).stdout).toContain('nothing to do');
    await p.takeRuns();
    const shard = (await readdir(p.file('.cf/objects')))[0]!;
    const blob = (await readdir(p.file(`.cf/objects/${shard}`)))[0]!;
    await rm(p.file(`.cf/objects/${shard}/${blob}`));
    const r = await p.cf(['build']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/1 ran, 3 fresh/);
    expect(await p.takeRuns()).toHaveLength(1);
    expect((await p.cf(['build'])).stdout).toContain('0 ran, 4 fresh');
  });

  it('an output path holding a file cf did not write is kept aside; a killed cf\'s temporaries are removed; counts add up', async () => {
    p = await Project.create({ seeds: 20 });
    await p.write('out/pairs.json', '{"my": "notes"}\n');
    const gone = (await execa('node', ['-e', 'process.stdout.write(String(process.pid))'])).stdout;
    await p.write(`out/legos.json.cf-tmp-${gone}-0a1b2c3d`, 'half a merge');
    const r = await p.cf(['build'], { FAKE_FAIL_IDS: 'S0003', FAKE_ONLY_PHASE: 'legos' });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/wrote out\/pairs\.json: 20 items from 1 batch \(out\/pairs\.json was not written by cf; it is kept at \.cf\/replaced\/out__pairs\.json\./);
    const kept = await readdir(p.file('.cf/replaced'));
    expect(await p.read(`.cf/replaced/${kept[0]!}`)).toBe('{"my": "notes"}\n');
    expect(existsSync(p.file(`out/legos.json.cf-tmp-${gone}-0a1b2c3d`))).toBe(false);
    // A failed batch is counted once: failed, not also stale.
    const status = await p.cf(['status']);
    expect(status.stdout).toContain('seeds: seeds.json: 20 seeds in 1 batch of 20');
    expect(status.stdout).toMatch(/legos\s+0\/1\s+0\s+0\s+1\s+out\/legos\.json/);
  });

  it('an agent script that does not exist is a config error before anything runs (exit 2, nothing recorded)', async () => {
    p = await Project.create({ seeds: 20, pipeline: TWO_PHASES().replace(/command: \[node, "[^"]+"\]/, 'command: [node, agents/translate.js]') });
    const r = await p.cf(['build']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cf: error: pipeline.yaml:5:14: runners.fake.command: runner "fake": script agents/translate.js does not exist');
    expect(existsSync(p.file('.cf/records.log')) ? await p.read('.cf/records.log') : '').toBe('');
    expect(existsSync(path.join(p.dir, '.cf', 'runs'))).toBe(false);
  });
});
