import { chmod, rename, writeFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { FAKE_AGENT, isRunning, Project, readySignal, seedsJson, targetsOf, TWO_PHASES } from './helpers/project.js';
import { gate, Lines, stopAll, Watch } from './helpers/watch.js';

let p: Project | undefined;
let w: Watch | undefined;
let proc: ReturnType<Project['spawn']> | undefined;
const cleanups: Array<() => void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) c();
  await stopAll([w?.proc, proc], p);
  p = undefined;
  w = undefined;
  proc = undefined;
});

/**
 * pairs#2 hangs on S0025 while batches 1 and 3 finish; S0025 is then edited: the rebuild that follows
 * cancels pairs#2 (its agent killed).
 */
async function unstickBatch2(watch: Watch, project: Project): Promise<void> {
  const ran = new Set<string>();
  await watch.until((e) => {
    if (e.event === 'ran') ran.add(e.target as string);
    return ran.has('pairs#1') && ran.has('pairs#3');
  });
  await project.editSeed('S0025', 'no longer stuck');
  const first = await watch.rebuild();
  expect(first.events.find((e) => e.event === 'cancelled' && e.target === 'pairs#2')).toBeDefined();
}

describe('cf watch (real file edits on a running watcher)', () => {
  it('reruns exactly what an edit affects; a save without changes runs nothing; a broken pipeline.yaml keeps it alive', async () => {
    p = await Project.create({ seeds: 60 });
    w = new Watch(p.spawn(['watch', '--json']));
    expect((await w.rebuild()).ran).toEqual(['legos#1', 'legos#2', 'legos#3', 'pairs#1', 'pairs#2', 'pairs#3']);

    await p.editSeed('S0025', 'an edited seed');
    const seed = await w.rebuild();
    expect(seed.changed).toEqual(['seeds.json']);
    expect(seed.ran).toEqual(['legos#2', 'pairs#2']);

    await p.write('prompts/pairs.md', '# Pairs\nTranslate each seed, with care.\n');
    const intel = await w.rebuild();
    expect(intel.ran).toEqual(['pairs#1', 'pairs#2', 'pairs#3']);
    expect(intel.events.filter((e) => e.event === 'started').every((e) => (e.reasons as string[]).includes('intelligence prompts/pairs.md changed'))).toBe(true);

    await p.write('seeds.json', await p.read('seeds.json'));
    expect((await w.rebuild()).ran).toEqual([]);

    const good = await p.read('pipeline.yaml');
    await p.save('pipeline.yaml', `${good}  - bogus: [\n`);
    const broken = await w.until((e) => e.event === 'error');
    expect(broken.at(-1)).toMatchObject({ kind: 'config', file: 'pipeline.yaml' });
    expect((await w.rebuild()).ran).toEqual([]);
    await p.save('pipeline.yaml', good.replace('batch_size: 20', 'batch_size: 30'));
    expect((await w.rebuild()).ran).toEqual(['legos#1', 'legos#2', 'pairs#1', 'pairs#2']);
    expect((await p.takeRuns()).length).toBeGreaterThan(0);
  });

  it("an editor's save burst (temporary file, rename, chmod) is one rebuild", async () => {
    p = await Project.create({ seeds: 60 });
    w = new Watch(p.spawn(['watch', '--json']));
    await w.rebuild();
    const edited = seedsJson(60, (i) => (i === 25 ? 'saved by an editor' : `seed number ${i}`));
    await writeFile(p.file('.seeds.json.swp'), edited);
    await rename(p.file('.seeds.json.swp'), p.file('seeds.json'));
    await chmod(p.file('seeds.json'), 0o644);
    const saved = await w.rebuild();
    expect(saved.changed).toEqual(['seeds.json']);
    expect(saved.ran).toEqual(['legos#2', 'pairs#2']);
    // The next rebuild is the next save's: the burst left nothing behind.
    await p.write('prompts/pairs.md', await p.read('prompts/pairs.md'));
    const next = await w.rebuild();
    expect(next.changed).toEqual(['prompts/pairs.md']);
    expect(next.ran).toEqual([]);
  });

  it('started on a project already built: one seed edit is exactly one rebuild line (its own writes to out/ are no change)', async () => {
    p = await Project.create({ seeds: 60 });
    expect((await p.cf(['build'])).code).toBe(0);
    const out = new Lines((proc = p.spawn(['watch'])));
    await out.until((l) => l.includes('initial build'));
    expect(out.seen.at(-1)).toMatch(/^\d\d:\d\d:\d\d initial build: nothing to run; 0 ran, 6 fresh in /);
    await p.editSeed('S0025', 'an edited seed');
    expect(await out.next()).toMatch(/^\d\d:\d\d:\d\d seeds\.json changed: ran pairs#2, legos#2 \(seed S0025 changed; .*\); 2 ran, 4 fresh in /);
    await p.write('prompts/pairs.md', await p.read('prompts/pairs.md'));
    expect(await out.next()).toMatch(/^\d\d:\d\d:\d\d prompts\/pairs\.md changed: nothing to run; 0 ran, 6 fresh in /);
  });

  it('a merged output edited by hand is taken and reruns what reads it', async () => {
    p = await Project.create({ seeds: 60 });
    w = new Watch(p.spawn(['watch', '--json']));
    await w.rebuild();
    const pairs = JSON.parse(await p.read('out/pairs.json')) as Array<{ id: string; text: string }>;
    pairs[24]!.text = 'pairs(hand edited)';
    await p.save('out/pairs.json', `${JSON.stringify(pairs, null, 2)}\n`);
    const r = await w.rebuild();
    expect(r.changed).toEqual(['out/pairs.json']);
    expect(r.events.find((e) => e.event === 'edit-taken')).toMatchObject({ output: 'out/pairs.json', targets: ['pairs#2'] });
    expect(r.ran).toEqual(['legos#2']);
    expect(await p.read('out/legos.json')).toContain('legos(pairs(hand edited))');
  });

  it("an edit of a runner's agent script or of its deps reruns the phases using that runner", async () => {
    const pipeline = `seeds: seeds.json
batch_size: 20
runners:
  script:
    command: [node, agent.mjs]
    timeout: 20s
  lexical:
    command: [node, ${JSON.stringify(FAKE_AGENT)}]
    deps: [data/lexicon.json]
    timeout: 20s
phases:
  - name: pairs
    intelligence: prompts/pairs.md
    runner: script
    output: out/pairs.json
  - name: legos
    intelligence: prompts/legos.md
    runner: lexical
    output: out/legos.json
`;
    p = await Project.create({
      seeds: 60,
      pipeline,
      files: { 'agent.mjs': `import ${JSON.stringify(pathToFileURL(FAKE_AGENT).href)};\n`, 'data/lexicon.json': '{"words": []}\n' },
    });
    w = new Watch(p.spawn(['watch', '--json']));
    expect((await w.rebuild()).ran).toHaveLength(6);
    await p.save('agent.mjs', `${await p.read('agent.mjs')}// v2\n`);
    const script = await w.rebuild();
    expect(script.changed).toEqual(['agent.mjs']);
    expect(script.ran).toEqual(['pairs#1', 'pairs#2', 'pairs#3']);
    expect(script.events.filter((e) => e.event === 'started').every((e) => (e.reasons as string[]).includes('runner file agent.mjs changed'))).toBe(true);
    await p.save('data/lexicon.json', '{"words": ["hola"]}\n');
    const deps = await w.rebuild();
    expect(deps.changed).toEqual(['data/lexicon.json']);
    expect(deps.ran).toEqual(['legos#1', 'legos#2', 'legos#3']);
    expect(deps.events.find((e) => e.event === 'started')).toMatchObject({ reasons: [expect.stringContaining('data/lexicon.json changed')] });
  });

  it('a change during a build cancels the batch whose inputs changed (its agent killed, nothing recorded) and runs it again', async () => {
    p = await Project.create({ seeds: 60 });
    await p.write('seeds.json', seedsJson(60, (i) => (i === 25 ? 'please hang' : `seed number ${i}`)));
    const ready = await readySignal(p.dir);
    cleanups.push(() => ready.close());
    w = new Watch(p.spawn(['watch', '--json'], { FAKE_HANG_TEXT: 'hang', FAKE_READY_SOCKET: ready.path }));
    // Batch 2 of pairs hangs (and says so); batches 1 and 3 finish.
    const pids = await ready.next();
    expect(pids.target).toBe('pairs#2');
    await unstickBatch2(w, p);
    expect(isRunning(pids.agent)).toBe(false);
    const again = await w.rebuild();
    expect(again.ran).toEqual(['legos#2', 'pairs#2']);
    expect(await p.read('out/legos.json')).toContain('legos(pairs(no longer stuck))');
  });

  it('items: independent: a change during a build cancels the packed run of the changed item (its agent killed, nothing recorded) and runs it again', async () => {
    const independent = TWO_PHASES().replace(/output: out\/(pairs|legos)\.json/g, 'output: out/$1.json\n    items: independent');
    p = await Project.create({ seeds: 60, pipeline: independent });
    await p.write('seeds.json', seedsJson(60, (i) => (i === 25 ? 'please hang' : `seed number ${i}`)));
    const ready = await readySignal(p.dir);
    w = new Watch(p.spawn(['watch', '--json'], { FAKE_HANG_TEXT: 'hang', FAKE_READY_SOCKET: ready.path }));
    // Each batch's 20 stale items are one run; batch 2's hangs, batches 1 and 3 finish.
    const pids = await ready.next();
    ready.close();
    expect(pids.target).toBe('pairs#2');
    await unstickBatch2(w, p);
    expect(isRunning(pids.agent)).toBe(false);
    expect(isRunning(pids.grandchild)).toBe(false);
    const again = await w.rebuild();
    expect(again.ran).toEqual(['legos#2', 'pairs#2']);
    // None of the cancelled run's items was cached: all 20 are made again.
    expect(again.events.find((e) => e.event === 'ran' && e.target === 'pairs#2')).toMatchObject({ regenerated: 20 });
    expect(await p.read('out/legos.json')).toContain('legos(pairs(no longer stuck))');
  });

  it('a change during a build lets the batches it does not affect finish while the affected one is cancelled', async () => {
    p = await Project.create({ seeds: 60 });
    await p.write('seeds.json', seedsJson(60, (i) => (i === 5 ? 'gate me' : i === 25 ? 'please hang' : `seed number ${i}`)));
    const held = await gate(p.dir);
    const ready = await readySignal(p.dir);
    cleanups.push(() => held.close(), () => ready.close());
    w = new Watch(
      p.spawn(['watch', '--json'], { FAKE_GATE_TEXT: 'gate me', FAKE_GATE_SOCKET: held.path, FAKE_ONLY_PHASE: 'pairs', FAKE_HANG_TEXT: 'hang', FAKE_READY_SOCKET: ready.path }),
    );
    // pairs#1 is held open by the test, pairs#2 hangs, pairs#3 (and legos#3 after it) finish.
    const unaffected = await held.arrived();
    expect(unaffected.target).toBe('pairs#1');
    expect((await ready.next()).target).toBe('pairs#2');
    const ran = new Set<string>();
    await w.until((e) => {
      if (e.event === 'ran') ran.add(e.target as string);
      return ran.has('pairs#3') && ran.has('legos#3');
    });
    await p.editSeed('S0025', 'no longer stuck');
    await w.until((e) => e.event === 'cancelled' && e.target === 'pairs#2');
    expect(isRunning(unaffected.agent)).toBe(true);
    held.release('pairs#1');
    const first = await w.rebuild();
    expect(first.ran).toEqual(['legos#3', 'pairs#1', 'pairs#3']);
    expect(first.cancelled).toEqual(['legos#1', 'legos#2', 'pairs#2']);
    const again = await w.rebuild();
    expect(again.ran).toEqual(['legos#1', 'legos#2', 'pairs#2']);
    // pairs#1's agent ran once: it was not cancelled.
    expect(targetsOf(await p.takeRuns()).filter((t) => t === 'pairs#1')).toHaveLength(1);
  });

  it('Ctrl-C says it stops the agents, stops them, records nothing half-done, and exits 130', async () => {
    p = await Project.create({ seeds: 20, pipeline: TWO_PHASES() });
    const ready = await readySignal(p.dir);
    cleanups.push(() => ready.close());
    proc = p.spawn(['watch'], { FAKE_HANG_IDS: 'S0001', FAKE_READY_SOCKET: ready.path });
    const out = new Lines(proc);
    const pids = await ready.next();
    proc.kill('SIGINT');
    await out.until((l) => l === 'cf watch: stopping agents… Ctrl-C again to quit now');
    const r = await proc;
    expect(r.exitCode).toBe(130);
    expect(isRunning(pids.agent)).toBe(false);
    expect(isRunning(pids.grandchild)).toBe(false);
    expect(await p.read('.cf/records.log').catch(() => '')).not.toContain('pairs#1');
  });
});
