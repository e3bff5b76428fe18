import { describe, expect, it } from 'vitest';
import type { Engine } from '../src/engine/engine.js';
import type { BuildEvent } from '../src/events/types.js';
import type { Item } from '../src/config/seeds.js';
import type { ValidationError } from '../src/exec/validate.js';
import type { AgentRequest } from '../src/exec/runners/types.js';
import { hashCanonical } from '../src/util/hash.js';
import { World, type AgentFn } from './helpers/memory.js';

/** Item ids of each agent run since `mark`, with its attempt. */
function runsSince(w: World, mark: number): Array<{ ids: string[]; attempt: number; target: string }> {
  return w.runs.slice(mark).map((r) => ({ ids: r.inputItems.map((it) => String(it.id)), attempt: r.attempt, target: r.target }));
}

/** The output of an item: "pairs(<text>)", or what `special` says for it. */
function agent(special: (req: AgentRequest, it: Item) => string | undefined = () => undefined): AgentFn {
  return (req) => ({ ok: true, output: JSON.stringify(req.inputItems.map((it) => ({ id: it.id, text: special(req, it) ?? `${req.phase}(${String(it.text)})` }))) });
}

/** Rejects an item whose text another item of the batch already has, naming the later one. */
function noDuplicates(items: Item[]): ValidationError[] {
  const seen = new Map<string, string>();
  const errors: ValidationError[] = [];
  for (const it of items) {
    const first = seen.get(String(it.text));
    if (first) errors.push({ item: String(it.id), message: `repeats ${first}` });
    else seen.set(String(it.text), String(it.id));
  }
  return errors;
}

const events = <K extends BuildEvent['event']>(w: World, kind: K): Array<Extract<BuildEvent, { event: K }>> =>
  w.events.filter((e): e is Extract<BuildEvent, { event: K }> => e.event === kind);

describe('items: independent, a batch rejected as a whole (in memory)', () => {
  it('the items its errors name go back to the agent with the errors; the batch then validates', async () => {
    const w = await World.create([{ name: 'pairs', items: 'independent', validate: noDuplicates }], 40);
    await w.build();
    // S0007's new output repeats S0003's cached one, until the agent is told so.
    w.agent = agent((req, it) => (it.id === 'S0007' && !req.prompt.task.includes('S0007: repeats S0003') ? 'pairs(seed 3)' : undefined));
    w.editSeed('S0007', 'edited');
    const mark = w.runs.length;
    const r = await w.build();
    expect(runsSince(w, mark)).toEqual([
      { ids: ['S0007'], attempt: 1, target: 'pairs#1' },
      { ids: ['S0007'], attempt: 2, target: 'pairs#1' },
    ]);
    expect(w.runs.at(-1)!.prompt.task).toContain('## Fix these errors from attempt 1');
    expect(r.ran).toEqual(['pairs#1']);
    expect(events(w, 'retried')).toMatchObject([{ target: 'pairs#1', batch: 1, attempt: 2, errors: [{ attempt: 1, item: 'S0007', source: 'validator', message: 'repeats S0003' }] }]);
    expect(events(w, 'ran').at(-1)).toMatchObject({ target: 'pairs#1', attempts: 2, regenerated: 1 });
    expect(w.output('pairs')[6]).toEqual({ id: 'S0007', text: 'pairs(edited)' });
  });

  it('is not stuck: nothing of a batch that failed is cached, so the next build asks the agent again', async () => {
    const w = await World.create([{ name: 'pairs', items: 'independent', validate: noDuplicates }], 40);
    await w.build();
    w.agent = agent((_req, it) => (it.id === 'S0007' ? 'pairs(seed 3)' : undefined));
    w.editSeed('S0007', 'edited');
    let mark = w.runs.length;
    const failed = await w.build();
    expect(failed.failed).toEqual(['pairs#1']);
    expect(runsSince(w, mark).map((x) => x.attempt)).toEqual([1, 2, 3]);
    expect(w.state.failure('pairs#1' as never)).toMatchObject({ attempts: 3 });
    // The cached output of S0007 is still the one made for its old input.
    expect(w.state.lastItem('pairs', 'S0007')!.input).toBe(hashCanonical({ id: 'S0007', text: 'seed 7' }));

    // The same inputs again: the agent is called (the rejected output was never cached), and it recovers.
    w.agent = agent();
    mark = w.runs.length;
    const again = await w.build();
    expect(runsSince(w, mark)).toEqual([{ ids: ['S0007'], attempt: 1, target: 'pairs#1' }]);
    expect(again.ran).toEqual(['pairs#1']);
    expect(again.merged).toEqual(['out/pairs.json']);
  });

  it('an error that names no item sends the whole batch back, cached items included', async () => {
    let strict = false;
    const w = await World.create([{ name: 'pairs', items: 'independent', validate: (items) => (strict && items.some((it) => String(it.text).includes('v1')) ? [{ message: 'the batch mixes versions' }] : []) }], 40);
    await w.build();
    strict = true;
    w.agent = agent((req, it) => (it.id === 'S0025' && req.attempt === 1 ? 'v1' : undefined));
    w.editSeed('S0025', 'edited');
    const mark = w.runs.length;
    const r = await w.build();
    const runs = runsSince(w, mark);
    expect(runs.map((x) => [x.ids.length, x.attempt])).toEqual([
      [1, 1],
      [20, 2],
    ]);
    expect(runs[1]!.ids).toContain('S0021');
    expect(w.runs.at(-1)!.prompt.task).toContain('- the batch mixes versions');
    expect(r.ran).toEqual(['pairs#2']);
    expect(events(w, 'ran').at(-1)).toMatchObject({ target: 'pairs#2', attempts: 2, regenerated: 20 });
  });

  it('cached items rejected together (the seeds moved): the named item is made again, as attempt 1', async () => {
    let strict = false;
    const w = await World.create([{ name: 'pairs', items: 'independent', validate: (items) => (strict ? items.filter((it) => it.text === 'pairs(seed 5)').map((it) => ({ item: String(it.id), message: 'too plain' })) : []) }], 40);
    await w.build();
    strict = true;
    w.seeds = w.seeds.filter((s) => s.id !== 'S0001'); // batches 1 and 2 are new; every item of them is cached
    w.agent = agent((req, it) => (it.id === 'S0005' && req.prompt.task.includes('- S0005: too plain') ? 'pairs(seed 5, less plain)' : undefined));
    const mark = w.runs.length;
    const r = await w.build();
    expect(runsSince(w, mark)).toEqual([{ ids: ['S0005'], attempt: 1, target: 'pairs#1' }]);
    expect(w.runs.at(-1)!.prompt.task).toContain('An earlier answer for these items was rejected');
    expect(events(w, 'retried')).toMatchObject([{ target: 'pairs#1', attempt: 1, errors: [{ attempt: 0, item: 'S0005' }] }]);
    expect(r.ran).toEqual(['pairs#1']);
    expect(r.fresh).toEqual(['pairs#2']);
    expect(w.output('pairs')[3]).toEqual({ id: 'S0005', text: 'pairs(seed 5, less plain)' });
  });
});

describe('items: independent, a pack of several batches (in memory)', () => {
  const twoBatches = async (validate: (items: Item[]) => ValidationError[]): Promise<World> => {
    const w = await World.create([{ name: 'pairs', items: 'independent', validate }], 40);
    await w.build();
    w.editSeed('S0005', 'edited bad');
    w.editSeed('S0030', 'edited good');
    w.events.length = 0;
    return w;
  };

  it('one bad item fails only its own batch; the good items packed with it are kept and not made again', async () => {
    const w = await twoBatches((items) => items.filter((it) => String(it.text).includes('bad')).map((it) => ({ item: String(it.id), message: 'still bad' })));
    const mark = w.runs.length;
    const r = await w.build();
    expect(runsSince(w, mark)).toEqual([
      { ids: ['S0005', 'S0030'], attempt: 1, target: 'pairs#1+2' },
      { ids: ['S0005'], attempt: 2, target: 'pairs#1' },
      { ids: ['S0005'], attempt: 3, target: 'pairs#1' },
    ]);
    expect(r.ran).toEqual(['pairs#2']);
    expect(r.failed).toEqual(['pairs#1']);
    expect(events(w, 'ran')).toMatchObject([{ target: 'pairs#2', attempts: 1, regenerated: 1 }]);
    const failed = events(w, 'failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ target: 'pairs#1', batch: 1, attempts: 3 });
    expect(failed[0]!.errors.map((e) => `${e.attempt} ${e.item}: ${e.message}`)).toEqual(['1 S0005: still bad', '2 S0005: still bad', '3 S0005: still bad']);
    expect(events(w, 'retried').map((e) => [e.target, e.batch, e.attempt])).toEqual([
      ['pairs#1', 1, 2],
      ['pairs#1', 1, 3],
    ]);
    // S0030 is cached: the next build does not make it again.
    w.agent = agent();
    w.editSeed('S0005', 'edited fine');
    const next = w.runs.length;
    await w.build();
    expect(runsSince(w, next).map((x) => x.ids)).toEqual([['S0005']]);
  });

  it('an item left out of the answer is retried alone; each batch keeps its own attempts', async () => {
    const w = await twoBatches(() => []);
    // S0005 is missing from the first two answers; S0030 comes back at once.
    w.agent = (req) => ({ ok: true, output: JSON.stringify(req.inputItems.filter((it) => it.id !== 'S0005' || req.attempt === 3).map((it) => ({ id: it.id, text: String(it.text) }))) });
    const mark = w.runs.length;
    const r = await w.build();
    expect(runsSince(w, mark).map((x) => [x.target, x.ids.join(','), x.attempt])).toEqual([
      ['pairs#1+2', 'S0005,S0030', 1],
      ['pairs#1', 'S0005', 2],
      ['pairs#1', 'S0005', 3],
    ]);
    expect(w.runs[mark + 1]!.prompt.task).toContain('- S0005: S0005 is missing from the output');
    expect(r.ran.sort()).toEqual(['pairs#1', 'pairs#2']);
    expect(events(w, 'ran').map((e) => [e.target, e.attempts])).toEqual([
      ['pairs#2', 1],
      ['pairs#1', 3],
    ]);
    expect(events(w, 'retried')[0]).toMatchObject({ target: 'pairs#1', batch: 1, errors: [{ item: 'S0005', source: 'output' }] });
  });

  it('an agent run that fails is every packed batch\'s failed attempt, each with its own message', async () => {
    const w = await twoBatches(() => []);
    w.agent = () => ({ ok: false, failure: { kind: 'exit', code: 2, detail: 'no' } });
    const r = await w.build();
    expect(r.failed.sort()).toEqual(['pairs#1', 'pairs#2']);
    for (const t of ['pairs#1', 'pairs#2']) {
      const f = events(w, 'failed').find((e) => e.target === t)!;
      expect(f.attempts).toBe(3);
      expect(f.errors.filter((e) => e.attempt === 3).map((e) => e.message)).toEqual(['the agent exited with code 2: no']);
    }
  });
});

describe('items: independent, cancelling a packed run whose inputs changed (in memory)', () => {
  it('the run whose item changed is aborted and records nothing; the other run goes on', async () => {
    const w = await World.create([{ name: 'pairs', items: 'independent' }], 100);
    await w.build();
    // Batch 1 (20 stale items, a full pack) and batch 5 (one) make two runs.
    for (let i = 1; i <= 20; i++) w.editSeed(`S${String(i).padStart(4, '0')}`, `edited ${i}`);
    w.editSeed('S0090', 'edited 90');
    let go!: () => void;
    const gate = new Promise<'go'>((r) => (go = () => r('go')));
    let started = 0;
    let bothStarted!: () => void;
    const running = new Promise<void>((r) => (bothStarted = r));
    w.agent = async (req) => {
      if (++started === 2) bothStarted();
      const aborted = new Promise<'aborted'>((r) => req.signal.addEventListener('abort', () => r('aborted'), { once: true }));
      if ((await Promise.race([gate, aborted])) === 'aborted') return { ok: false, failure: { kind: 'cancelled' } };
      return agent()(req);
    };
    let engine: Engine | undefined;
    const mark = w.runs.length;
    const building = w.build([], undefined, (e) => (engine = e));
    await running;
    expect(engine!.running().map((r) => r.target).sort()).toEqual(['pairs#1', 'pairs#5']);
    // S0005 changes again while its run goes on.
    w.editSeed('S0005', 'edited twice');
    engine!.cancelOutdated(await w.decider());
    go();
    const r = await building;
    expect(r.cancelled).toEqual(['pairs#1']);
    expect(r.ran).toEqual(['pairs#5']);
    expect(w.state.lastItem('pairs', 'S0001')!.input).toBe(hashCanonical({ id: 'S0001', text: 'seed 1' }));
    expect(w.state.lastItem('pairs', 'S0090')!.input).toBe(hashCanonical({ id: 'S0090', text: 'edited 90' }));
    // The next build makes batch 1's items from the new seeds.
    w.agent = agent();
    await w.build();
    expect(runsSince(w, mark).slice(2).map((x) => [x.target, x.ids.length])).toEqual([['pairs#1', 20]]);
    expect(w.output('pairs')[4]).toEqual({ id: 'S0005', text: 'pairs(edited twice)' });
  });
});
