import { afterEach, describe, expect, it, type TestContext } from 'vitest';
import { events, isRunning, Project, targetsOf, TWO_PHASES } from './helpers/project.js';

let project: Project | undefined;
afterEach(async () => {
  await project?.remove();
  project = undefined;
});

/** A project of the test's own, removed when it ends (for the tests that run side by side). */
async function own(t: TestContext, opts: Parameters<typeof Project.create>[0]): Promise<Project> {
  const p = await Project.create(opts);
  t.onTestFinished(() => p.remove());
  return p;
}

async function built(seeds = 40): Promise<Project> {
  project = await Project.create({ seeds });
  const r = await project.cf(['build']);
  expect(r.code, r.stderr).toBe(0);
  await project.takeRuns();
  return project;
}

// What cf build decides (what runs, retries, failures, hand edits, explain, dry runs, targets) is tested in
// memory through the Workspace (workspace.*.test.ts) and what it prints through the reporters
// (reporters.test.ts); the no-op stamp's decisions in noop.test.ts. Here: the real process, once each.
describe('cf build (through the CLI)', () => {
  it('runs every batch once, then nothing', async () => {
    project = await Project.create({ seeds: 40 });
    const first = await project.cf(['build']);
    expect(first.code, first.stderr).toBe(0);
    const runs = await project.takeRuns();
    expect(targetsOf(runs)).toEqual(['legos#1', 'legos#2', 'pairs#1', 'pairs#2']);
    expect(runs.every((r) => r.stdinMatches && r.count === 2 && r.attempt === 1)).toBe(true);
    expect(first.stdout).toMatch(/batch 2\/2 of pairs done: 20 items, \d/);

    const merged = JSON.parse(await project.read('out/legos.json')) as Array<{ id: string; text: string }>;
    expect(merged.map((m) => m.id)).toEqual(Array.from({ length: 40 }, (_, i) => `S${String(i + 1).padStart(4, '0')}`));
    expect(merged[0]!.text).toBe('legos(pairs(seed number 1))');

    const second = await project.cf(['build']);
    expect(second.code).toBe(0);
    expect(await project.takeRuns()).toEqual([]);
    expect(second.stdout).toContain('0 ran, 4 fresh');
  });

  it('-C works like make -C; a target that does not exist is exit 2 with what exists', async () => {
    project = await Project.create({ seeds: 25 });
    const other = await Project.create({ seeds: 1 });
    try {
      const byName = await other.cf(['-C', project.dir, 'build', 'pairs.json']);
      expect(byName.code, byName.stderr).toBe(0);
    } finally {
      await other.remove();
    }
    expect(targetsOf(await project.takeRuns())).toEqual(['pairs#1', 'pairs#2']);
    expect(JSON.parse(await project.read('out/pairs.json'))).toHaveLength(25);
    const bad = await project.cf(['build', 'pairs#9']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('phase pairs has batches 1 to 2');
    const typo = await project.cf(['build', 'lego.json']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('did you mean "legos.json"');
  });

  // When a change takes the full path instead is decided by the stamp (noop.test.ts); here, the fast path end to end.
  it('an unchanged tree is answered from its stat stamp, also once touched or saved unchanged', async () => {
    const p = await built(20);
    const { utimes } = await import('node:fs/promises');
    // Files written more than 2 s ago are trusted by their stat; age them instead of waiting.
    const old = new Date(Date.now() - 60_000);
    for (const f of ['seeds.json', 'prompts/pairs.md', 'prompts/legos.md', 'pipeline.yaml', 'out/pairs.json', 'out/legos.json']) await utimes(p.file(f), old, old);
    expect((await p.cf(['build'])).stdout).toContain('0 ran, 2 fresh');
    const fast = await p.cf(['build']);
    expect(fast.stdout).toContain('nothing to do (no input changed since the last build)');
    const json = await p.cf(['build', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ event: 'summary', ok: true, ran: [], fresh: ['legos#1', 'pairs#1'] });
    // Touched, or saved with the same content: the stamp's content hash answers (make and ninja would rerun).
    const older = new Date(Date.now() - 30_000);
    for (const f of ['seeds.json', 'prompts/pairs.md', 'out/legos.json']) await utimes(p.file(f), older, older);
    await p.write('prompts/legos.md', await p.read('prompts/legos.md'));
    await utimes(p.file('prompts/legos.md'), older, older);
    expect((await p.cf(['build'])).stdout).toContain('nothing to do (no input changed since the last build)');
  });

  // The direct path's timeout (an agent's tree killed, the message): containment.cli.test.ts, with escapes.
  it('a build of many batches starts its agents through the spawner; a timed-out tree is still killed', async (t) => {
    // 12 batches planned: over the 8 from which a build starts the spawner at once (app/workspace.ts).
    const project = await own(t, { seeds: 120, pipeline: TWO_PHASES().replace('timeout: 20s', 'timeout: 1s') });
    const proc = project.spawn(['build', '--json', '-j', '2'], { FAKE_HANG_IDS: 'S0101', FAKE_ONLY_PHASE: 'pairs' });
    const r = await proc;
    expect(r.exitCode).toBe(1);
    const runs = await project.takeRuns();
    // Agents are the spawner's children, not cf's (but for the first few, should the spawner start late).
    const spawned = runs.filter((x) => x.ppid !== proc.pid);
    expect(spawned.length).toBeGreaterThanOrEqual(runs.length - 5);
    expect(new Set(spawned.map((x) => x.ppid)).size).toBe(1);
    expect(runs.filter((x) => x.phase === 'pairs' && x.batch === 6)).toHaveLength(3);
    expect(runs.filter((x) => x.phase === 'legos')).toHaveLength(5);
    for (let attempt = 1; attempt <= 3; attempt++) {
      const { agent, grandchild } = JSON.parse(await project.read(`.cf/runs/pairs/6/attempt-${attempt}/output.json.pids`)) as { agent: number; grandchild: number };
      expect(isRunning(agent)).toBe(false);
      expect(isRunning(grandchild)).toBe(false);
    }
    expect(events(r.stdout).at(-1)).toMatchObject({ failed: ['pairs#6'], skipped: ['legos#6'] });
  });
});
