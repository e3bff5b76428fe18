import { afterEach, describe, expect, it } from 'vitest';
import { describeStatus } from '../src/cli/format/statuses.js';
import { formatStaleReason } from '../src/cli/format/reasons.js';
import { seedsJson } from './helpers/project.js';
import { Bench, type FakeRun } from './helpers/workspace.js';

/*
 * items: independent through the composed Workspace in memory: pay per changed seed, what a dry run says
 * of reassembled batches, and cf clean of one batch. Moved here from items.cli.test.ts, with its assertions.
 */

const PIPELINE = `seeds: seeds.json
batch_size: 20
batching: stable
runners:
  fake: {command: [node, fake-agent.mjs]}
phases:
  - {name: pairs, intelligence: prompts/pairs.md, runner: fake, output: out/pairs.json, items: independent}
  - {name: legos, intelligence: prompts/legos.md, runner: fake, output: out/legos.json, items: independent}
`;
/** Two items: independent phases in positional batches of 20. */
const POSITIONAL = PIPELINE.replace('batching: stable\n', '');

const benches: Bench[] = [];
afterEach(async () => {
  await Promise.all(benches.splice(0).map((b) => b.remove()));
});

async function bench(seeds: string, pipeline = PIPELINE): Promise<Bench> {
  const b = await Bench.create({ pipeline, files: { 'seeds.json': seeds, 'fake-agent.mjs': '' } });
  benches.push(b);
  return b;
}

/** Item ids each phase's agent was given. */
function itemsOf(runs: FakeRun[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const r of runs) (out[r.phase] ??= []).push(...r.ids);
  for (const k of Object.keys(out)) out[k]!.sort();
  return out;
}

describe('pay per changed seed (the Workspace, in memory; the fake agent logs the items it is given)', () => {
  it('edit, insert, delete, reorder: the agents see only new or changed items; merges equal a clean build', async () => {
    const items = JSON.parse(seedsJson(200)) as Array<{ id: string; text: string }>;
    const b = await bench(JSON.stringify(items));
    expect((await b.build()).exitCode).toBe(0);
    expect(itemsOf(b.runs).pairs).toHaveLength(200);
    const step = async (next: typeof items, expected: Record<string, string[]>): Promise<void> => {
      await b.write('seeds.json', JSON.stringify(next));
      const dry = await b.dryRun();
      if (Object.keys(expected).length) expect(dry.rows.map(describeStatus).join('\n')).toMatch(/items stale: /);
      const r = await b.build();
      expect(r.exitCode).toBe(0);
      expect(itemsOf(r.runs)).toEqual(expected);
      const clean = await bench(JSON.stringify(next));
      expect((await clean.build()).exitCode).toBe(0);
      expect(b.output('out/legos.json')).toBe(clean.output('out/legos.json'));
    };
    items[44]!.text = 'edited';
    await step(items, { pairs: ['S0045'], legos: ['S0045'] });
    items.splice(99, 0, { id: 'S9001', text: 'inserted' });
    await step(items, { pairs: ['S9001'], legos: ['S9001'] });
    await step(items.filter((x) => x.id !== 'S0150'), {});
    const moved = items.filter((x) => x.id !== 'S0150');
    [moved[3], moved[170]] = [moved[170]!, moved[3]!];
    await step(moved, {});
  });
});

describe('items: independent, dry run and clean (the Workspace, in memory)', () => {
  it('a dry run says which batches are reassembled from cached items, apart from those that run', async () => {
    const b = await bench(seedsJson(60), POSITIONAL);
    expect((await b.build()).exitCode).toBe(0);
    const items = JSON.parse(await b.read('seeds.json')) as Array<{ id: string; text: string }>;
    items.splice(4, 0, { id: 'S9001', text: 'inserted' });
    await b.write('seeds.json', JSON.stringify(items));

    const { rows } = await b.dryRun();
    const row = (t: string) => rows.find((s) => s.target === t)!;
    // What cf build -n prints of a reassembled batch: its reasons besides "0 of N items stale".
    const besidesItems = (t: string): string => {
      const s = row(t);
      return s.kind === 'stale' ? s.reasons.filter((r) => r.kind !== 'stale-items').map(formatStaleReason).join('; ') : '';
    };
    const p1 = row('pairs#1');
    expect(p1.kind === 'stale' && !p1.reassemble).toBe(true);
    expect(describeStatus(row('pairs#1'))).toMatch(/^1 of 20 items stale: S9001 \(new\)/);
    expect(row('pairs#2')).toMatchObject({ kind: 'stale', reassemble: true });
    expect(besidesItems('pairs#2')).toBe('S0020 added; S0040 removed');
    expect(row('pairs#4')).toMatchObject({ kind: 'stale', reassemble: true });
    expect(besidesItems('pairs#4')).toMatch(/^never built/);
    const wouldRun = rows.filter((s) => s.kind === 'stale' && !s.reassemble).map((s) => s.target);
    const reassemble = rows.filter((s) => s.kind === 'stale' && s.reassemble).map((s) => s.target);
    // legos#4 was never built: it runs whatever pairs#4 gives.
    expect(wouldRun).toEqual(['pairs#1', 'legos#4']);
    expect(reassemble).toEqual(['pairs#2', 'pairs#3', 'pairs#4']);
    expect(rows.filter((s) => s.kind === 'pending')).toHaveLength(3);

    const r = await b.build();
    expect(r.exitCode).toBe(0);
    expect(itemsOf(r.runs)).toEqual({ pairs: ['S9001'], legos: ['S9001'] });
  });

  it("cf clean PHASE#k forgets the batch's cached items too: the next build makes them again", async () => {
    const b = await bench(seedsJson(40), POSITIONAL);
    expect((await b.build()).exitCode).toBe(0);
    const cleaned = await b.clean(['pairs#1']);
    expect(cleaned.batches).toEqual(['pairs#1']);
    const r = await b.build();
    expect(r.exitCode).toBe(0);
    // The same answers again, so legos#1 finds its inputs unchanged.
    expect(itemsOf(r.runs)).toEqual({ pairs: Array.from({ length: 20 }, (_, i) => `S${String(i + 1).padStart(4, '0')}`) });
  });
});
