import { afterEach, describe, expect, it } from 'vitest';
import { JsonRoundTrip } from '../src/exec/executor.js';
import type { AgentRequest, AgentResult } from '../src/exec/runners/types.js';
import { LocalStore } from '../src/store/localStore.js';
import { World, type AgentFn, type MemPhase } from './helpers/memory.js';
import { RemoteStore, StoreServer } from './helpers/remoteStore.js';
import { Bench, type Built } from './helpers/workspace.js';

/*
 * Each seam of the architecture, proved by replacing what is behind it and getting the same builds.
 * (The third, "two subscribers on one bus see the same events in the same order", is the events work's.)
 */

/** Letters only: the vocabulary counts letter runs. */
const word = (i: number): string => `w${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + Math.floor(i / 26))}`;

/**
 * A course: pairs echo the seed; legos split it into words; baskets practise each seed's words (with the
 * vocabulary taught before it as context). Attempt 1 of pairs#1 and of legos' first run leaves S0007 out.
 */
function courseAnswer(req: Pick<AgentRequest, 'phase' | 'attempt' | 'inputItems'>): string {
  const items = req.inputItems.filter((it) => !(it.id === 'S0007' && req.attempt === 1 && req.phase !== 'baskets'));
  const out = items.map((it) => {
    if (req.phase === 'pairs') return { id: it.id, text: `pairs(${String(it.text)})` };
    if (req.phase === 'legos') return { id: it.id, legos: String(it.text).slice(6, -1).split(' ').map((w, i) => ({ id: `${String(it.id)}L${i}`, lego: { known: w, target: w } })) };
    return { id: it.id, basket: `practise ${(it.legos as Array<{ lego: { target: string } }>).map((l) => l.lego.target).join('+')}` };
  });
  return JSON.stringify(out);
}

const seedText = (i: number): string => `${word(i)} shared ${word(i + 1)}`;

describe('the store seam', () => {
  const PHASES: MemPhase[] = [
    { name: 'pairs' },
    { name: 'legos', items: 'independent' },
    { name: 'baskets', items: 'independent', context: { vocabulary: 'legos' } },
  ];

  async function world(store: 'local' | 'remote'): Promise<{ w: World; server?: StoreServer; remote?: RemoteStore }> {
    const w = await World.create(PHASES, 0);
    w.seeds = Array.from({ length: 60 }, (_, i) => ({ id: `S${String(i + 1).padStart(4, '0')}`, text: seedText(i) }));
    const agent: AgentFn = (req) => ({ ok: true, output: courseAnswer(req) });
    w.agent = agent;
    if (store === 'local') {
      w.store = LocalStore.memory();
      return { w };
    }
    const server = new StoreServer();
    const remote = new RemoteStore(server);
    w.store = remote;
    return { w, server, remote };
  }

  /** What a build did that a user sees: what ran (and was given), what was fresh, what was written. */
  async function step(w: World): Promise<object> {
    const from = w.runs.length;
    const r = await w.build();
    return {
      agentRuns: r.agentRuns,
      // Jobs run side by side: the order they start in is scheduling, not outcome.
      given: w.runs
        .slice(from)
        .map((x) => `${x.target}/${x.attempt}: ${x.inputItems.map((it) => String(it.id)).join(',')}`)
        .sort(),
      ran: r.ran.slice().sort(),
      fresh: r.fresh.slice().sort(),
      failed: r.failed,
      merged: r.merged,
      outputs: PHASES.map((p) => w.output(p.name)),
    };
  }

  it('a store that lives in another object (as a remote would) gives the same builds: build, edit, rebuild, revert', async () => {
    const local = await world('local');
    const far = await world('remote');
    const edits: Array<[string, (w: World) => void]> = [
      ['build', () => undefined],
      ['edit a seed', (w) => w.editSeed('S0025', `${word(24)} shared ${word(25)} brandnew`)],
      ['edit an intelligence', (w) => w.intelligence.set('prompts/baskets.md', '# baskets, reworded\n')],
      ['revert the seed', (w) => w.editSeed('S0025', seedText(24))],
      ['revert the intelligence', (w) => w.intelligence.set('prompts/baskets.md', '# baskets\n')],
    ];
    const steps: Record<string, object> = {};
    for (const [name, edit] of edits) {
      edit(local.w);
      edit(far.w);
      const [a, b] = [await step(local.w), await step(far.w)];
      expect(b, name).toEqual(a);
      steps[name] = a;
    }
    // The builds did what they are for, through the far store too: retries, a rerun, and reverts found again by key.
    expect(steps.build).toMatchObject({ failed: [], agentRuns: expect.arrayContaining(['pairs#1', 'baskets#3']) });
    expect((steps.build as { given: string[] }).given).toContain('pairs#1/2: S0001,S0002,S0003,S0004,S0005,S0006,S0007,S0008,S0009,S0010,S0011,S0012,S0013,S0014,S0015,S0016,S0017,S0018,S0019,S0020');
    expect((steps['edit a seed'] as { agentRuns: string[] }).agentRuns.length).toBeGreaterThan(0);
    // pairs and legos are found again by key; baskets run (the seed is back, under the edited intelligence).
    expect((steps['revert the seed'] as { agentRuns: string[] }).agentRuns).toEqual(['baskets#2', 'baskets#3']);
    expect((steps['revert the intelligence'] as { agentRuns: string[]; merged: string[] }).agentRuns).toEqual([]);
    expect((steps['revert the intelligence'] as { outputs: unknown }).outputs).toEqual((steps.build as { outputs: unknown }).outputs);
    await far.remote!.flush();
    expect(far.server!.hits).toBeGreaterThan(0);
    expect(far.server!.calls.get('findItem')).toBeGreaterThan(0);
    expect(far.server!.calls.get('get')).toBeGreaterThan(0);
  });

  it('through the Workspace: two checkouts sharing one far store; the second runs nothing the first built, and writes the same outputs', async () => {
    const server = new StoreServer();
    const [a, b] = [await Bench.create({ seeds: 60 }), await Bench.create({ seeds: 60 })];
    try {
      a.storeInstead = new RemoteStore(server);
      b.storeInstead = new RemoteStore(server);
      const first = await a.build();
      expect(first.ran).toEqual(['legos#1', 'legos#2', 'legos#3', 'pairs#1', 'pairs#2', 'pairs#3']);
      const second = await b.build();
      expect(second.runs).toEqual([]);
      expect(second.summary.fresh.slice().sort()).toEqual(first.ran);
      for (const out of ['out/pairs.json', 'out/legos.json']) expect(b.output(out)).toBe(a.output(out));
      // One seed edited on the second: its batches run there; the first, given the same edit, runs nothing.
      await b.editSeed('S0025', 'edited on the second machine');
      expect((await b.build()).ran).toEqual(['legos#2', 'pairs#2']);
      await a.editSeed('S0025', 'edited on the second machine');
      expect((await a.build()).runs).toEqual([]);
      expect(a.output('out/legos.json')).toBe(b.output('out/legos.json'));
    } finally {
      await Promise.all([a.remove(), b.remove()]);
    }
  });

  it('a blob damaged in the far store is found by its hash when read, and built again in the same build', async () => {
    const far = await world('remote');
    await far.w.build();
    await far.remote!.flush();
    far.server!.damage(far.remote!.lastSuccess('pairs#2' as never)!.out);
    // legos#2 reruns and reads pairs#2's stored output.
    far.w.intelligence.set('prompts/legos.md', '# legos, reworded\n');
    const r = await far.w.build();
    expect(r.agentRuns).toEqual(expect.arrayContaining(['pairs#2', 'legos#1', 'legos#2', 'legos#3']));
    expect(r.failed).toEqual([]);
  });
});

describe('the execution seam', () => {
  const PIPELINE = `seeds: seeds.json
batch_size: 20
runners:
  fake: {command: [node, fake-agent.mjs]}
phases:
  - {name: pairs, intelligence: prompts/pairs.md, runner: fake, output: out/pairs.json}
  - {name: legos, intelligence: prompts/legos.md, runner: fake, output: out/legos.json, items: independent}
  - {name: baskets, intelligence: prompts/baskets.md, runner: fake, output: out/baskets.json, items: independent, context: {vocabulary: legos}}
`;

  const benches: Bench[] = [];
  afterEach(async () => {
    await Promise.all(benches.splice(0).map((b) => b.remove()));
  });

  async function bench(json: boolean): Promise<Bench> {
    const b = await Bench.create({ pipeline: PIPELINE, files: { 'fake-agent.mjs': '', 'prompts/baskets.md': '# Baskets\n' } });
    benches.push(b);
    await b.write('seeds.json', JSON.stringify(Array.from({ length: 60 }, (_, i) => ({ id: `S${String(i + 1).padStart(4, '0')}`, text: seedText(i) }))));
    b.agent = (req): AgentResult => ({ ok: true, output: courseAnswer(req) });
    if (json) b.wrapExecutor = (e) => new JsonRoundTrip(e);
    return b;
  }

  /** A build's outcome as a user sees it, its times left out (durations, and when records were made). */
  const outcome = (b: Bench, r: Built): object =>
    JSON.parse(
      JSON.stringify({
        exitCode: r.exitCode,
        summary: r.summary,
        runs: r.runs,
        events: r.events.map((e) => (e.event === 'ran' ? { ...e, ms: 0 } : e)),
        outputs: ['out/pairs.json', 'out/legos.json', 'out/baskets.json'].map((f) => b.output(f)),
      }).replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, '(time)'),
    ) as object;

  it('a job spec round-tripped through JSON gives the same outcome: batches, independent items, retries, a context phase, checks', async () => {
    const plain = await bench(false);
    const json = await bench(true);
    const steps: Array<[string, (b: Bench) => Promise<void>]> = [
      ['build', async () => undefined],
      ['edit a seed', (b) => b.editSeed('S0025', `${word(24)} shared ${word(25)} brandnew`)],
      // A hand edit of an items: independent output: checked by a `check` job, then taken.
      [
        'hand edit',
        async (b) => {
          const legos = JSON.parse(b.output('out/legos.json')!) as Array<{ id: string; legos: unknown[] }>;
          legos[30]!.legos = [{ id: 'S0031L0', lego: { known: 'hand', target: 'hand' } }];
          await b.editOutput('out/legos.json', JSON.stringify(legos));
        },
      ],
    ];
    for (const [name, change] of steps) {
      await change(plain);
      await change(json);
      const [a, b] = [await plain.build(), await json.build()];
      expect(outcome(json, b), name).toEqual(outcome(plain, a));
      expect(a.exitCode, name).toBe(0);
    }
    // What the steps exercised: a retry of a batch and of items, a context phase, a taken hand edit.
    expect(plain.events.filter((e) => e.event === 'retried').map((e) => (e as { target: string }).target)).toEqual(expect.arrayContaining(['pairs#1', 'legos#1']));
    expect(plain.runs.some((r) => r.phase === 'baskets' && r.prompt.includes('S0031'))).toBe(true);
    expect(plain.events.find((e) => e.event === 'edit-taken')).toMatchObject({ output: 'out/legos.json', targets: ['legos#2'] });
  });
});
