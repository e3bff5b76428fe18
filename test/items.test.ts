import { describe, expect, it } from 'vitest';
import type { Item } from '../src/config/seeds.js';
import { World, type AgentFn } from './helpers/memory.js';

const THREE = [
  { name: 'pairs', items: 'independent' as const },
  { name: 'legos', items: 'independent' as const },
  { name: 'baskets', items: 'independent' as const },
];

/** Items the agent was given, per phase, since the last call. */
function regenerated(w: World, since: number): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const r of w.runs.slice(since)) (out[r.phase] ??= []).push(...r.inputItems.map((it) => String(it.id)));
  for (const k of Object.keys(out)) out[k]!.sort();
  return out;
}

async function fromScratch(phases: typeof THREE, seeds: Item[], batching: 'positional' | 'stable'): Promise<World> {
  const w = await World.create(phases, 0);
  w.seeds = seeds.map((s) => ({ ...s }));
  w.batching = batching;
  await w.build();
  return w;
}

describe.each(['positional', 'stable'] as const)('items: independent, %s batches (668 seeds, in memory)', (batching) => {
  it('pays per changed seed: edit, insert at 300, delete, reorder; merges equal a from-scratch build', async () => {
    const w = await World.create(THREE, 668);
    w.batching = batching;
    await w.build();
    const same = async (): Promise<void> => {
      const clean = await fromScratch(THREE, w.seeds, batching);
      for (const p of ['pairs', 'legos', 'baskets']) expect(w.output(p)).toEqual(clean.output(p));
    };

    let mark = w.runs.length;
    w.editSeed('S0045', 'edited');
    await w.build();
    expect(regenerated(w, mark)).toEqual({ pairs: ['S0045'], legos: ['S0045'], baskets: ['S0045'] });
    await same();

    mark = w.runs.length;
    w.seeds.splice(299, 0, { id: 'S9001', text: 'a new seed' });
    await w.build();
    expect(regenerated(w, mark)).toEqual({ pairs: ['S9001'], legos: ['S9001'], baskets: ['S9001'] });
    expect(w.output('baskets')[299]!.id).toBe('S9001');
    await same();

    mark = w.runs.length;
    w.seeds = w.seeds.filter((s) => s.id !== 'S0500');
    const del = await w.build();
    expect(regenerated(w, mark)).toEqual({});
    expect(w.output('legos').some((x) => x.id === 'S0500')).toBe(false);
    expect(del.agentRuns).toEqual([]);
    await same();

    mark = w.runs.length;
    [w.seeds[10], w.seeds[600]] = [w.seeds[600]!, w.seeds[10]!];
    await w.build();
    expect(regenerated(w, mark)).toEqual({});
    await same();
  });
});

describe('items: independent, packing and explanations', () => {
  it('packs the stale items of several batches into one agent run', async () => {
    const w = await World.create([{ name: 'pairs', items: 'independent' }], 200);
    await w.build();
    const mark = w.runs.length;
    for (const id of ['S0005', 'S0045', 'S0046', 'S0150']) w.editSeed(id, `edited ${id}`);
    const r = await w.build();
    const runs = w.runs.slice(mark);
    expect(runs).toHaveLength(1);
    expect(runs[0]!.inputItems.map((it) => it.id)).toEqual(['S0005', 'S0045', 'S0046', 'S0150']);
    expect(r.ran.sort()).toEqual(['pairs#1', 'pairs#3', 'pairs#8']);
    expect(w.events.find((e) => e.event === 'started' && e.packed)).toMatchObject({ packed: ['pairs#1', 'pairs#3', 'pairs#8'] });
  });

  it('explains in items: "1 of 20 items stale: S0045 (input changed)"', async () => {
    const w = await World.create([{ name: 'pairs', items: 'independent' }], 60);
    await w.build();
    w.editSeed('S0045', 'edited');
    const { Analysis } = await import('../src/engine/analyze.js');
    const { formatStaleReason } = await import('../src/cli/format/reasons.js');
    const a = new Analysis(await w.decider());
    const s = await a.batch((await w.decider()).graph.phase('pairs'), 3);
    expect(s.kind).toBe('stale');
    expect(s.kind === 'stale' && s.reasons.map(formatStaleReason)[0]).toBe('1 of 20 items stale: S0045 (input changed)');
  });
});

/** Letters only: the vocabulary counts letter runs ("w12" would be the word "w"). */
const word = (i: number): string => `w${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + Math.floor(i / 26))}`;

/** Seeds are sentences; "legos" splits them into words; "baskets" practises each seed with the words taught so far. */
const courseAgent: AgentFn = (req) => {
  const out = req.inputItems.map((it) => {
    if (req.phase === 'legos') return { id: it.id, legos: String(it.text).split(' ').map((w, i) => ({ id: `${it.id}L${i}`, lego: { known: w, target: w } })) };
    return { id: it.id, basket: `practise ${(it.legos as Array<{ lego: { target: string } }>).map((l) => l.lego.target).join('+')}` };
  });
  return { ok: true, output: JSON.stringify(out) };
};

describe('cumulative context: the vocabulary taught before an item', () => {
  const phases = [
    { name: 'legos', items: 'independent' as const },
    { name: 'baskets', items: 'independent' as const, context: { vocabulary: 'legos' } },
  ];

  async function course(): Promise<World> {
    const w = await World.create(phases, 0);
    w.agent = courseAgent;
    w.seeds = Array.from({ length: 60 }, (_, i) => ({ id: `S${String(i + 1).padStart(4, '0')}`, text: `${word(i)} shared ${word(i + 1)}` }));
    await w.build();
    return w;
  }

  it('an edit that teaches no new word reruns only that seed\'s baskets', async () => {
    const w = await course();
    const mark = w.runs.length;
    w.editSeed('S0010', `shared ${word(9)} ${word(10)}`); // the same words, in another order
    await w.build();
    expect(regenerated(w, mark)).toEqual({ legos: ['S0010'], baskets: ['S0010'] });
  });

  it('an edit that teaches a new word reruns every later item (their vocabulary changed)', async () => {
    const w = await course();
    const mark = w.runs.length;
    w.editSeed('S0010', `${word(9)} shared ${word(10)} brandnew`);
    await w.build();
    const r = regenerated(w, mark);
    expect(r.legos).toEqual(['S0010']);
    expect(r.baskets).toEqual(Array.from({ length: 51 }, (_, i) => `S${String(i + 10).padStart(4, '0')}`));
    const first = w.runs.slice(mark).find((x) => x.phase === 'baskets' && x.inputItems.some((it) => it.id === 'S0010'))!.prompt.task;
    expect(first).toContain('## Context: vocabulary (from legos)');
    expect(first).toMatch(/Words taught before S0010 \(\d+\): /);
    const later = w.runs.slice(mark).find((x) => x.phase === 'baskets' && x.inputItems.some((it) => it.id === 'S0021'))!.prompt.task;
    expect(later).toMatch(/Words taught before S0021 \(\d+\): .*brandnew/);
  });
});

describe('batching: stable, for items: batch phases', () => {
  it('inserting a seed reruns the batch it lands in (and at times a neighbour or two), not every later batch', async () => {
    for (const [batching, most] of [['stable', 4], ['positional', 15]] as const) {
      const w = await World.create([{ name: 'pairs' }, { name: 'legos' }], 668);
      w.batching = batching;
      await w.build();
      w.seeds.splice(299, 0, { id: 'S9001', text: 'a new seed' });
      const r = await w.build();
      const pairs = r.agentRuns.filter((t) => t.startsWith('pairs#'));
      if (batching === 'stable') expect(pairs.length).toBeLessThanOrEqual(most);
      else expect(pairs.length).toBeGreaterThanOrEqual(most);
    }
  });
});

describe('cumulative context from a phase that is not the upstream', () => {
  it('a word taught inside a batch reaches the later items of that batch', async () => {
    const w = await World.create(
      [
        { name: 'legos', items: 'independent' },
        { name: 'pairs', items: 'independent', from: 'seeds' },
        { name: 'baskets', items: 'independent', from: 'pairs', context: { vocabulary: 'legos' } },
      ],
      0,
    );
    w.agent = (req) => {
      const out = req.inputItems.map((it) => {
        if (req.phase === 'legos') return { id: it.id, legos: String(it.text).split(' ').map((x, i) => ({ id: `${it.id}L${i}`, lego: { known: x, target: x } })) };
        if (req.phase === 'pairs') return { id: it.id, pair: 'same' }; // does not change when the seed does
        return { id: it.id, basket: 'b' };
      });
      return { ok: true, output: JSON.stringify(out) };
    };
    w.seeds = Array.from({ length: 60 }, (_, i) => ({ id: `S${String(i + 1).padStart(4, '0')}`, text: `${word(i)} shared ${word(i + 1)}` }));
    await w.build();
    const mark = w.runs.length;
    w.editSeed('S0010', `${word(9)} shared ${word(10)} brandnew`);
    await w.build();
    expect(regenerated(w, mark).baskets).toEqual(Array.from({ length: 50 }, (_, i) => `S${String(i + 11).padStart(4, '0')}`));
  });
});

describe('LEGO `new` flags: global, as the merge sets them, for the phase that reads lego pairs', () => {
  it('the baskets agent sees new:false for a LEGO an earlier seed taught, whatever the legos agent said; a flag change reruns that seed only', async () => {
    const w = await World.create(
      [
        { name: 'legos', items: 'independent' as const },
        { name: 'baskets', items: 'independent' as const, context: { vocabulary: 'legos' } },
      ],
      0,
    );
    // "a+b" is one LEGO of two words; every LEGO is claimed new (an agent sees only its own batch).
    w.agent = (req) => {
      const out = req.inputItems.map((it) => {
        if (req.phase === 'legos') {
          const legos = String(it.text).split(' ').map((x, i) => ({ id: `${it.id}L${i}`, new: true, lego: { known: x.replace('+', ' '), target: x.replace('+', ' ') } }));
          return { id: it.id, legos };
        }
        const legos = it.legos as Array<{ new: boolean; lego: { target: string } }>;
        return { id: it.id, basket: legos.map((l) => `${l.lego.target}:${l.new ? 'new' : 'old'}`).join(' ') };
      });
      return { ok: true, output: JSON.stringify(out) };
    };
    w.seeds = Array.from({ length: 30 }, (_, i) => ({ id: `S${String(i + 1).padStart(4, '0')}`, text: `${word(i)} shared ${word(i + 1)}` }));
    await w.build();
    const baskets = (): Map<string, string> => new Map(w.output('baskets').map((b) => [String(b.id), String(b.basket)]));
    expect(baskets().get('S0001')).toBe(`${word(0)}:new shared:new ${word(1)}:new`);
    expect(baskets().get('S0006')).toBe(`${word(5)}:old shared:old ${word(6)}:new`);

    // S0005 now teaches "shared w5" as one LEGO: the same words, but "w5" alone is first taught by S0006.
    const mark = w.runs.length;
    w.editSeed('S0005', `${word(4)} shared+${word(5)}`);
    await w.build();
    expect(regenerated(w, mark)).toEqual({ legos: ['S0005'], baskets: ['S0005', 'S0006'] });
    expect(baskets().get('S0006')).toBe(`${word(5)}:new shared:old ${word(6)}:new`);
  });
});
