import { afterEach, describe, expect, it } from 'vitest';
import { isRunning, Project, readySignal, seedsJson, TWO_PHASES } from './helpers/project.js';

type Event = Record<string, unknown> & { event: string };

/** A running `cf watch --json`, read event by event: the test waits for events, never for time. */
class Watch {
  private readonly lines: AsyncIterator<unknown>;
  readonly seen: Event[] = [];

  constructor(readonly proc: ReturnType<Project['spawn']>) {
    this.lines = proc.iterable()[Symbol.asyncIterator]();
  }

  async next(): Promise<Event> {
    const r = await this.lines.next();
    if (r.done) throw new Error(`cf watch ended; saw ${this.seen.map((e) => e.event).join(', ')}`);
    const e = JSON.parse(String(r.value)) as Event;
    this.seen.push(e);
    return e;
  }

  /** Events up to and including the next one matching. */
  async until(pred: (e: Event) => boolean): Promise<Event[]> {
    const out: Event[] = [];
    for (;;) {
      const e = await this.next();
      out.push(e);
      if (pred(e)) return out;
    }
  }

  /** The next rebuild's summary (and the events before it). */
  async rebuild(): Promise<{ events: Event[]; ran: string[] }> {
    const events = await this.until((e) => e.event === 'summary');
    return { events, ran: ((events.at(-1)!.ran as string[]) ?? []).slice().sort() };
  }
}

let p: Project | undefined;
let w: Watch | undefined;
afterEach(async () => {
  w?.proc.kill('SIGKILL');
  await w?.proc.catch(() => undefined);
  await p?.remove();
  p = undefined;
  w = undefined;
});

describe('cf watch (real file edits on a running watcher)', () => {
  it('reruns exactly what an edit affects; a save without changes runs nothing; a broken pipeline.yaml keeps it alive', async () => {
    p = await Project.create({ seeds: 60 });
    w = new Watch(p.spawn(['watch', '--json']));
    expect((await w.rebuild()).ran).toEqual(['legos#1', 'legos#2', 'legos#3', 'pairs#1', 'pairs#2', 'pairs#3']);

    await p.editSeed('S0025', 'an edited seed');
    expect((await w.rebuild()).ran).toEqual(['legos#2', 'pairs#2']);

    await p.write('prompts/pairs.md', '# Pairs\nTranslate each seed, with care.\n');
    const intel = await w.rebuild();
    expect(intel.ran).toEqual(['pairs#1', 'pairs#2', 'pairs#3']);
    expect(intel.events.filter((e) => e.event === 'started').every((e) => (e.reasons as string[]).includes('intelligence prompts/pairs.md changed'))).toBe(true);

    await p.write('seeds.json', await p.read('seeds.json'));
    expect((await w.rebuild()).ran).toEqual([]);

    const good = await p.read('pipeline.yaml');
    await p.write('pipeline.yaml', `${good}  - bogus: [\n`);
    const broken = await w.until((e) => e.event === 'config-error');
    expect(broken.at(-1)!.message).toContain('pipeline.yaml');
    await w.rebuild();
    await p.write('pipeline.yaml', good.replace('batch_size: 20', 'batch_size: 30'));
    expect((await w.rebuild()).ran).toEqual(['legos#1', 'legos#2', 'pairs#1', 'pairs#2']);
    expect((await p.takeRuns()).length).toBeGreaterThan(0);
  });

  it('a change during a build cancels the batch whose inputs changed (its agent killed, nothing recorded) and runs it again', async () => {
    p = await Project.create({ seeds: 60 });
    await p.write('seeds.json', seedsJson(60, (i) => (i === 25 ? 'please hang' : `seed number ${i}`)));
    const ready = await readySignal(p.dir);
    w = new Watch(p.spawn(['watch', '--json'], { FAKE_HANG_TEXT: 'hang', FAKE_READY_SOCKET: ready.path }));
    // Batch 2 of pairs hangs (and says so); batches 1 and 3 finish.
    const pids = await ready.next();
    ready.close();
    expect(pids.target).toBe('pairs#2');
    const ran = new Set<string>();
    await w.until((e) => {
      if (e.event === 'ran') ran.add(e.target as string);
      return ran.has('pairs#1') && ran.has('pairs#3');
    });
    await p.editSeed('S0025', 'no longer stuck');
    const first = await w.rebuild();
    expect(first.events.find((e) => e.event === 'cancelled' && e.target === 'pairs#2')).toBeDefined();
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
    const ran = new Set<string>();
    await w.until((e) => {
      if (e.event === 'ran') ran.add(e.target as string);
      return ran.has('pairs#1') && ran.has('pairs#3');
    });
    await p.editSeed('S0025', 'no longer stuck');
    const first = await w.rebuild();
    expect(first.events.find((e) => e.event === 'cancelled' && e.target === 'pairs#2')).toBeDefined();
    expect(isRunning(pids.agent)).toBe(false);
    expect(isRunning(pids.grandchild)).toBe(false);
    const again = await w.rebuild();
    expect(again.ran).toEqual(['legos#2', 'pairs#2']);
    // None of the cancelled run's items was cached: all 20 are made again.
    expect(again.events.find((e) => e.event === 'ran' && e.target === 'pairs#2')).toMatchObject({ regenerated: 20 });
    expect(await p.read('out/legos.json')).toContain('legos(pairs(no longer stuck))');
  });

  it('Ctrl-C stops the running agents, records nothing half-done, and exits 130', async () => {
    p = await Project.create({ seeds: 20, pipeline: TWO_PHASES() });
    const ready = await readySignal(p.dir);
    w = new Watch(p.spawn(['watch', '--json'], { FAKE_HANG_IDS: 'S0001', FAKE_READY_SOCKET: ready.path }));
    const pids = await ready.next();
    ready.close();
    w.proc.kill('SIGINT');
    const r = await w.proc.catch((e: { exitCode: number }) => e);
    expect(r.exitCode).toBe(130);
    expect(isRunning(pids.agent)).toBe(false);
    expect(isRunning(pids.grandchild)).toBe(false);
    expect(await p.read('.cf/records.log').catch(() => '')).not.toContain('pairs#1');
  });
});
