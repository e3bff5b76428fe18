import { afterEach, describe, expect, it } from 'vitest';
import { events, isRunning, Project, targetsOf } from './helpers/project.js';

let project: Project | undefined;
afterEach(async () => {
  await project?.remove();
  project = undefined;
});

async function built(seeds = 60): Promise<Project> {
  project = await Project.create({ seeds });
  const r = await project.cf(['build']);
  expect(r.code, r.stderr).toBe(0);
  await project.takeRuns();
  return project;
}

describe('cf build (through the CLI)', () => {
  it('runs every batch once, then nothing', async () => {
    project = await Project.create({ seeds: 60 });
    const first = await project.cf(['build']);
    expect(first.code, first.stderr).toBe(0);
    const runs = await project.takeRuns();
    expect(targetsOf(runs)).toEqual(['legos#1', 'legos#2', 'legos#3', 'pairs#1', 'pairs#2', 'pairs#3']);
    expect(runs.every((r) => r.stdinMatches && r.count === 3 && r.attempt === 1)).toBe(true);
    expect(first.stdout).toMatch(/batch 2\/3 of pairs done: 20 items, \d/);

    const merged = JSON.parse(await project.read('out/legos.json')) as Array<{ id: string; text: string }>;
    expect(merged.map((m) => m.id)).toEqual(Array.from({ length: 60 }, (_, i) => `S${String(i + 1).padStart(4, '0')}`));
    expect(merged[0]!.text).toBe('legos(pairs(seed number 1))');

    const second = await project.cf(['build']);
    expect(second.code).toBe(0);
    expect(await project.takeRuns()).toEqual([]);
    expect(second.stdout).toContain('0 ran, 6 fresh');
  });

  it('reruns exactly one batch per phase when one seed changes, nothing when the file is touched or rewritten', async () => {
    const p = await built();
    await p.editSeed('S0025', 'an edited seed');
    const r = await p.cf(['build']);
    expect(r.code).toBe(0);
    const runs = await p.takeRuns();
    expect(targetsOf(runs)).toEqual(['legos#2', 'pairs#2']);
    expect(runs.map((x) => x.ids[0])).toEqual(['S0021', 'S0021']);
    expect(await p.read('out/legos.json')).toContain('legos(pairs(an edited seed))');

    const text = await p.read('seeds.json');
    const { utimes } = await import('node:fs/promises');
    await utimes(p.file('seeds.json'), new Date(), new Date(Date.now() + 5000));
    expect((await p.cf(['build'])).code).toBe(0);
    await p.write('seeds.json', text);
    expect((await p.cf(['build'])).code).toBe(0);
    // Reformatting the file without changing any seed's content is no change either.
    await p.write('seeds.json', JSON.stringify(JSON.parse(text)));
    expect((await p.cf(['build'])).code).toBe(0);
    expect(await p.takeRuns()).toEqual([]);
  });

  it('reruns a phase when its intelligence changes, and downstream only where its output changed', async () => {
    const p = await built();
    await p.write('prompts/pairs.md', '# Pairs\nTranslate each seed, carefully.\nSUFFIX-FOR S0045: !\n');
    const dry = await p.cf(['build', '--dry-run']);
    expect(dry.stdout).toContain('would run  pairs#1: intelligence prompts/pairs.md changed');
    expect(dry.stdout).toContain('may run    legos#1');
    expect(await p.takeRuns()).toEqual([]);

    const r = await p.cf(['build', '--json']);
    expect(r.code).toBe(0);
    expect(targetsOf(await p.takeRuns())).toEqual(['legos#3', 'pairs#1', 'pairs#2', 'pairs#3']);
    const ev = events(r.stdout);
    const fresh = ev.filter((e) => e.event === 'fresh').map((e) => e.target);
    expect(fresh.sort()).toEqual(['legos#1', 'legos#2']);
    const summary = ev.at(-1)!;
    expect(summary).toMatchObject({ event: 'summary', ok: true, exitCode: 0 });
    expect((summary.ran as string[]).sort()).toEqual(['legos#3', 'pairs#1', 'pairs#2', 'pairs#3']);
    expect(await p.read('out/legos.json')).toContain('legos(pairs(seed number 45)!)');
  });

  it('retries an invalid output with the error naming the item in the next prompt', async () => {
    project = await Project.create({ seeds: 40 });
    const r = await project.cf(['build', 'pairs'], { FAKE_FLAKY_IDS: 'S0007' });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const runs = await project.takeRuns();
    const batch1 = runs.filter((x) => x.batch === 1).map((x) => x.attempt);
    expect(batch1).toEqual([1, 2]);
    expect(r.stdout).toContain('S0007: S0007 is missing from the output');
    const prompt = await project.read('.cf/runs/pairs/1/attempt-2/prompt.md');
    expect(prompt).toContain('This is attempt 2 of 3');
    expect(prompt).toContain('- S0007: S0007 is missing from the output');
    expect(JSON.parse(await project.read('out/pairs.json'))).toHaveLength(40);
  });

  it('finishes the other batches when one always fails, exits 1, and next time runs only the failed chain', async () => {
    project = await Project.create({ seeds: 60 });
    const r = await project.cf(['build', '--json'], { FAKE_FAIL_IDS: 'S0030', FAKE_ONLY_PHASE: 'pairs' });
    expect(r.code).toBe(1);
    const runs = await project.takeRuns();
    expect(runs.filter((x) => x.phase === 'pairs' && x.batch === 2).map((x) => x.attempt)).toEqual([1, 2, 3]);
    expect(targetsOf(runs.filter((x) => !(x.phase === 'pairs' && x.batch === 2)))).toEqual(['legos#1', 'legos#3', 'pairs#1', 'pairs#3']);
    const ev = events(r.stdout);
    expect(ev.find((e) => e.event === 'failed')).toMatchObject({ target: 'pairs#2', attempts: 3 });
    expect(ev.find((e) => e.event === 'skipped')).toMatchObject({ target: 'legos#2' });
    expect(ev.filter((e) => e.event === 'merge-skipped').map((e) => e.output).sort()).toEqual(['out/legos.json', 'out/pairs.json']);
    expect(ev.at(-1)).toMatchObject({ event: 'summary', ok: false, exitCode: 1, failed: ['pairs#2'], skipped: ['legos#2'] });
    await expect(project.read('out/pairs.json')).rejects.toThrow();

    const status = await project.cf(['status']);
    expect(status.stdout).toContain('pairs#2: failed after 3 attempts');
    expect(status.stdout).toContain('fake agent: refusing S0030');
    const sj = JSON.parse((await project.cf(['status', '--json'])).stdout) as { failures: Array<{ target: string; attempts: number; errors: unknown[] }> };
    expect(sj.failures).toMatchObject([{ target: 'pairs#2', attempts: 3 }]);
    expect(sj.failures[0]!.errors).toHaveLength(3);

    const again = await project.cf(['build']);
    expect(again.code).toBe(0);
    expect(targetsOf(await project.takeRuns())).toEqual(['legos#2', 'pairs#2']);
    expect(JSON.parse(await project.read('out/legos.json'))).toHaveLength(60);
  });

  it('explains what changed, and --dry-run runs nothing', async () => {
    const p = await built();
    await p.editSeed('S0003', 'changed');
    const ex = await p.cf(['explain', 'pairs#1']);
    expect(ex.code).toBe(0);
    expect(ex.stdout).toContain('pairs#1 (seeds S0001–S0020): stale, will run');
    expect(ex.stdout).toContain('seed S0003 changed');
    const exl = await p.cf(['explain', 'legos#1']);
    expect(exl.stdout).toContain('runs only if its output changes');
    const fresh = await p.cf(['explain', 'pairs#2', '--json']);
    expect(JSON.parse(fresh.stdout)).toMatchObject({ target: 'pairs#2', state: 'fresh' });
    const dry = await p.cf(['build', '-n', '--json']);
    expect(dry.code).toBe(0);
    const summary = events(dry.stdout).at(-1)!;
    expect(summary).toMatchObject({ event: 'summary', dryRun: true, wouldRun: ['pairs#1'], mayRun: ['legos#1'] });
    expect(await p.takeRuns()).toEqual([]);
    // The edit is then built: explain says fresh.
    await p.cf(['build']);
    expect((await p.cf(['explain', 'pairs#1'])).stdout).toContain('fresh: inputs unchanged since');
  });

  it('builds one batch, one phase output, or an output by file name; -C works like make -C', async () => {
    project = await Project.create({ seeds: 45 });
    const one = await project.cf(['build', 'legos#3']);
    expect(one.code).toBe(0);
    expect(targetsOf(await project.takeRuns())).toEqual(['legos#3', 'pairs#3']);
    await expect(project.read('out/legos.json')).rejects.toThrow();
    const other = await Project.create({ seeds: 1 });
    try {
      const byName = await other.cf(['-C', project.dir, 'build', 'pairs.json']);
      expect(byName.code, byName.stderr).toBe(0);
    } finally {
      await other.remove();
    }
    expect(targetsOf(await project.takeRuns())).toEqual(['pairs#1', 'pairs#2']);
    expect(JSON.parse(await project.read('out/pairs.json'))).toHaveLength(45);
    const bad = await project.cf(['build', 'pairs#9']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('phase pairs has batches 1 to 3');
    const typo = await project.cf(['build', 'lego.json']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('did you mean "legos.json"');
  });

  it('an unchanged tree is answered from its stat stamp; any change takes the full path', async () => {
    const p = await built(40);
    const { utimes } = await import('node:fs/promises');
    // Files written more than 2 s ago are trusted by their stat; age them instead of waiting.
    const old = new Date(Date.now() - 60_000);
    for (const f of ['seeds.json', 'prompts/pairs.md', 'prompts/legos.md', 'pipeline.yaml', 'out/pairs.json', 'out/legos.json']) await utimes(p.file(f), old, old);
    expect((await p.cf(['build'])).stdout).toContain('0 ran, 4 fresh');
    const fast = await p.cf(['build']);
    expect(fast.stdout).toContain('nothing to do (no input changed since the last build)');
    const json = await p.cf(['build', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ event: 'summary', ok: true, ran: [], fresh: ['legos#1', 'legos#2', 'pairs#1', 'pairs#2'] });
    // Touched, or saved with the same content: the stamp's content hash answers (make and ninja would rerun).
    const older = new Date(Date.now() - 30_000);
    for (const f of ['seeds.json', 'prompts/pairs.md', 'out/legos.json']) await utimes(p.file(f), older, older);
    await p.write('prompts/legos.md', await p.read('prompts/legos.md'));
    await utimes(p.file('prompts/legos.md'), older, older);
    expect((await p.cf(['build'])).stdout).toContain('nothing to do (no input changed since the last build)');
    expect((await p.cf(['build'])).stdout).toContain('nothing to do');
    // The same size, another content: the full path.
    const prompt = await p.read('prompts/pairs.md');
    await p.write('prompts/pairs.md', prompt.replace(/.$/s, prompt.endsWith('X') ? 'Y' : 'X'));
    const later = new Date(Date.now() - 20_000);
    await utimes(p.file('prompts/pairs.md'), later, later);
    const changed = await p.cf(['build']);
    expect(changed.stdout).not.toContain('nothing to do');
    expect(targetsOf(await p.takeRuns())).toContain('pairs#1');
    await p.editSeed('S0003', 'changed');
    const full = await p.cf(['build']);
    expect(full.stdout).not.toContain('nothing to do');
    expect(targetsOf(await p.takeRuns())).toEqual(['legos#1', 'pairs#1']);
    // Another target list has its own answer.
    expect((await p.cf(['build', 'pairs'])).stdout).not.toContain('no input changed');
  });

  it('a hand edit of a merged output feeds downstream, like a newer intermediate file in make', async () => {
    const p = await built();
    const pairs = JSON.parse(await p.read('out/pairs.json')) as Array<{ id: string; text: string }>;
    pairs[24]!.text = 'pairs(hand-fixed)';
    await p.write('out/pairs.json', JSON.stringify(pairs));
    const r = await p.cf(['build']);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toContain('took the hand edit of out/pairs.json: pairs#2 now hold the edited items');
    expect(targetsOf(await p.takeRuns())).toEqual(['legos#2']);
    expect(await p.read('out/legos.json')).toContain('legos(pairs(hand-fixed))');
    expect(JSON.parse(await p.read('out/pairs.json'))[24].text).toBe('pairs(hand-fixed)');
    expect((await p.cf(['explain', 'pairs#2'])).stdout).toContain('fresh');

    // An edit that drops an item is not taken: the file is kept aside and written again.
    await p.write('out/pairs.json', JSON.stringify(pairs.slice(1)));
    const bad = await p.cf(['build']);
    expect(bad.stdout).toContain('did not take the hand edit of out/pairs.json for pairs#1');
    expect(bad.stdout).toContain('S0001 is missing from the output');
    expect(bad.stdout).toMatch(/edited by hand; the edited copy is kept at \.cf\/replaced\//);
    expect(JSON.parse(await p.read('out/pairs.json'))).toHaveLength(60);
    expect(await p.takeRuns()).toEqual([]);
  });

  it('a build of many batches starts its agents through the spawner; a timed-out tree is still killed', async () => {
    project = await Project.create({ seeds: 200, pipeline: (await import('./helpers/project.js')).TWO_PHASES().replace('timeout: 20s', 'timeout: 1s') });
    const proc = project.spawn(['build', '--json', '-j', '2'], { FAKE_HANG_IDS: 'S0181', FAKE_ONLY_PHASE: 'pairs' });
    const r = await proc;
    expect(r.exitCode).toBe(1);
    const runs = await project.takeRuns();
    // Agents are the spawner's children, not cf's (but for the first few, should the spawner start late).
    const spawned = runs.filter((x) => x.ppid !== proc.pid);
    expect(spawned.length).toBeGreaterThanOrEqual(runs.length - 5);
    expect(new Set(spawned.map((x) => x.ppid)).size).toBe(1);
    expect(runs.filter((x) => x.phase === 'pairs' && x.batch === 10)).toHaveLength(3);
    expect(runs.filter((x) => x.phase === 'legos')).toHaveLength(9);
    for (let attempt = 1; attempt <= 3; attempt++) {
      const { agent, grandchild } = JSON.parse(await project.read(`.cf/runs/pairs/10/attempt-${attempt}/output.json.pids`)) as { agent: number; grandchild: number };
      expect(isRunning(agent)).toBe(false);
      expect(isRunning(grandchild)).toBe(false);
    }
    expect(events(r.stdout).at(-1)).toMatchObject({ failed: ['pairs#10'], skipped: ['legos#10'] });
  });

  it('kills the whole process tree of an agent that times out', async () => {
    project = await Project.create({ seeds: 20, pipeline: (await import('./helpers/project.js')).TWO_PHASES().replace('timeout: 20s', 'timeout: 1s') });
    const r = await project.cf(['build', 'pairs#1'], { FAKE_HANG_IDS: 'S0001' });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('timed out after 1.0 s; its process tree was killed');
    const { agent, grandchild } = JSON.parse(await project.read('.cf/runs/pairs/1/attempt-1/output.json.pids')) as { agent: number; grandchild: number };
    expect(isRunning(agent)).toBe(false);
    expect(isRunning(grandchild)).toBe(false);
  });
});
