import { chmod, rename, writeFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { isRunning, Project, readySignal, seedsJson, TWO_PHASES } from './helpers/project.js';
import { Lines, stopAll, Watch } from './helpers/watch.js';

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
 * pairs#2 hangs on S0025 while batch 1 finishes; S0025 is then edited: the rebuild that follows cancels
 * pairs#2 (its agent killed).
 */
async function unstickBatch2(watch: Watch, project: Project): Promise<void> {
  await watch.until((e) => e.event === 'ran' && e.target === 'pairs#1');
  await project.editSeed('S0025', 'no longer stuck');
  const first = await watch.rebuild();
  expect(first.events.find((e) => e.event === 'cancelled' && e.target === 'pairs#2')).toBeDefined();
}

// What a rebuild runs after a change, and what a change mid-build cancels, is decided by the Workspace and
// tested in memory (workspace.watch.test.ts). Here: the watcher itself (file events, save bursts, its own
// writes, a broken pipeline.yaml), a real agent killed by a change, and Ctrl-C.
describe('cf watch (real file edits on a running watcher)', () => {
  it('reruns what an edit affects; a broken pipeline.yaml keeps it alive, and its repair is built', async () => {
    p = await Project.create({ seeds: 40 });
    w = new Watch(p.spawn(['watch', '--json']));
    expect((await w.rebuild()).ran).toEqual(['legos#1', 'legos#2', 'pairs#1', 'pairs#2']);

    await p.editSeed('S0025', 'an edited seed');
    const seed = await w.rebuild();
    expect(seed.changed).toEqual(['seeds.json']);
    expect(seed.ran).toEqual(['legos#2', 'pairs#2']);

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
    p = await Project.create({ seeds: 40 });
    w = new Watch(p.spawn(['watch', '--json']));
    await w.rebuild();
    const edited = seedsJson(40, (i) => (i === 25 ? 'saved by an editor' : `seed number ${i}`));
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
    p = await Project.create({ seeds: 40 });
    expect((await p.cf(['build'])).code).toBe(0);
    const out = new Lines((proc = p.spawn(['watch'])));
    await out.until((l) => l.includes('initial build'));
    expect(out.seen.at(-1)).toMatch(/^\d\d:\d\d:\d\d initial build: nothing to run; 0 ran, 4 fresh in /);
    await p.editSeed('S0025', 'an edited seed');
    expect(await out.next()).toMatch(/^\d\d:\d\d:\d\d seeds\.json changed: ran pairs#2, legos#2 \(seed S0025 changed; .*\); 2 ran, 2 fresh in /);
    await p.write('prompts/pairs.md', await p.read('prompts/pairs.md'));
    expect(await out.next()).toMatch(/^\d\d:\d\d:\d\d prompts\/pairs\.md changed: nothing to run; 0 ran, 4 fresh in /);
  });

  it('a change during a build cancels the batch whose inputs changed (its agent killed, nothing recorded) and runs it again', async () => {
    p = await Project.create({ seeds: 40 });
    await p.write('seeds.json', seedsJson(40, (i) => (i === 25 ? 'please hang' : `seed number ${i}`)));
    const ready = await readySignal(p.dir);
    cleanups.push(() => ready.close());
    w = new Watch(p.spawn(['watch', '--json'], { FAKE_HANG_TEXT: 'hang', FAKE_READY_SOCKET: ready.path }));
    // Batch 2 of pairs hangs (and says so); batch 1 finishes.
    const pids = await ready.next();
    expect(pids.target).toBe('pairs#2');
    await unstickBatch2(w, p);
    expect(isRunning(pids.agent)).toBe(false);
    const again = await w.rebuild();
    expect(again.ran).toEqual(['legos#2', 'pairs#2']);
    expect(await p.read('out/legos.json')).toContain('legos(pairs(no longer stuck))');
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
