import { afterEach, describe, expect, it } from 'vitest';
import type { Item } from '../src/config/seeds.js';
import type { MemoryBlobStore } from '../src/store/blobs.js';
import { Bench } from './helpers/workspace.js';

/*
 * cf adopt, cf clean (-n) and cf status through the composed Workspace in memory: what they decide and
 * report as data (the commands print it). Adopt is also run on the real course data and on the example
 * course (ssi.cli, example.cli); clean -n's printing stays in args.cli.
 */

const benches: Bench[] = [];
afterEach(async () => {
  await Promise.all(benches.splice(0).map((b) => b.remove()));
});

async function bench(seeds = 60): Promise<Bench> {
  const b = await Bench.create({ seeds });
  benches.push(b);
  return b;
}

const items = (text: string | null): Item[] => JSON.parse(text!) as Item[];

describe('cf adopt (the Workspace, in memory)', () => {
  it('adopting each phase of an earlier build leaves nothing to run, the same outputs; a phase before its upstream is refused', async () => {
    const old = await bench();
    await old.build();
    const outputs = { pairs: items(old.output('out/pairs.json')), legos: items(old.output('out/legos.json')) };

    const b = await bench();
    const tooEarly = await b.adopt('legos', outputs.legos);
    expect(tooEarly.adopted).toEqual([]);
    expect(tooEarly.rejected[0]).toMatchObject({ target: 'legos#1', reason: 'upstream pairs#1 is not built; build or adopt pairs first' });
    for (const phase of ['pairs', 'legos'] as const) {
      const report = await b.adopt(phase, outputs[phase], `old-${phase}.json`);
      expect(report).toMatchObject({ adopted: [`${phase}#1`, `${phase}#2`, `${phase}#3`], rejected: [], alreadyFresh: [], unknownIds: [] });
    }
    const [explained] = await b.explain(['legos#2']);
    expect(explained).toMatchObject({ kind: 'batch', status: { kind: 'fresh' }, last: { adopted: 'old-legos.json', attempts: 0 } });
    const r = await b.build();
    expect(r.runs).toEqual([]);
    expect(r.summary.fresh).toHaveLength(6);
    expect(b.output('out/pairs.json')).toBe(old.output('out/pairs.json'));
    expect(b.output('out/legos.json')).toBe(old.output('out/legos.json'));
    // Adopted again: already fresh.
    expect((await b.adopt('pairs', outputs.pairs)).alreadyFresh).toHaveLength(3);
  });

  it('batches with invalid or missing items are reported and not adopted; status counts what was; the build runs the rest', async () => {
    const old = await bench();
    await old.build();
    const pairs = items(old.output('out/pairs.json'));
    const b = await bench();
    b.validators.set('pairs', (its) => its.filter((it) => it.id === 'S0003').map((it) => ({ item: String(it.id), rule: 'tiling', message: 'does not tile' })));
    const report = await b.adopt('pairs', [...pairs.filter((it) => it.id !== 'S0050'), { id: 'S9999', text: 'no such seed' }]);
    expect(report.adopted).toEqual(['pairs#2']);
    expect(report.unknownIds).toEqual(['S9999']);
    expect(report.rejected).toEqual([
      { target: 'pairs#1', reason: '1 item failed validation', errors: [{ attempt: 0, source: 'validator', item: 'S0003', rule: 'tiling', message: 'does not tile' }] },
      { target: 'pairs#3', reason: '1 of 20 items is not in adopted.json', errors: [{ attempt: 0, source: 'output', item: 'S0050', message: 'S0050 is not in adopted.json' }] },
    ]);
    const status = await b.status();
    expect(status.phases.find((p) => p.phase === 'pairs')).toMatchObject({ fresh: report.adopted.length, stale: 2 });
    b.validators.set('pairs', null);
    expect((await b.build()).ran).toEqual(['legos#1', 'legos#2', 'legos#3', 'pairs#1', 'pairs#3']);
  });
});

describe('cf clean (the Workspace, in memory)', () => {
  it('-n lists what a clean deletes, deleting nothing; the clean then deletes exactly that; the next build runs everything', async () => {
    const b = await bench(30);
    await b.build();
    const before = { outputs: [...b.outputs.files.keys()], blobs: [...(b.store.blobs as MemoryBlobStore).blobs.keys()] };
    const dry = await b.clean([], { dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, outputs: ['out/pairs.json', 'out/legos.json'], runDirs: [] });
    expect(dry.batches.slice().sort()).toEqual(['legos#1', 'legos#2', 'pairs#1', 'pairs#2']);
    expect(dry.storedOutputs).toBe(before.blobs.length);
    expect([...b.outputs.files.keys()]).toEqual(before.outputs);
    expect((await b.build()).runs).toEqual([]);

    const done = await b.clean();
    expect(done).toMatchObject({ dryRun: false, outputs: dry.outputs, batches: dry.batches, storedOutputs: dry.storedOutputs });
    expect(b.outputs.files.size).toBe(0);
    expect((await b.build()).ran).toEqual(['legos#1', 'legos#2', 'pairs#1', 'pairs#2']);
  });

  it('of one batch: only it runs again, and its phase output is kept', async () => {
    const b = await bench(60);
    await b.build();
    const dry = await b.clean(['pairs#2'], { dryRun: true });
    expect(dry).toMatchObject({ outputs: [], batches: ['pairs#2'] });
    await b.clean(['pairs#2']);
    expect(b.output('out/pairs.json')).not.toBeNull();
    const r = await b.build();
    expect(r.ran).toEqual(['pairs#2']);
    // Its output is the same: legos#2 reads unchanged inputs.
    expect(r.summary.fresh).toContain('legos#2');
  });
});

describe('cf status (the Workspace, in memory)', () => {
  it('counts each batch once (fresh, stale, waiting or failed), with the seeds line and the outputs', async () => {
    const b = await bench(20);
    b.knobs = { fail: ['S0003'], onlyPhase: 'legos' };
    expect((await b.build()).exitCode).toBe(1);
    const s = await b.status();
    expect(s.seeds).toEqual({ file: 'seeds.json', count: 20, batchSize: 20, batches: 1, batching: 'positional' });
    // A failed batch is counted once: failed, not also stale.
    expect(s.phases.find((p) => p.phase === 'legos')).toMatchObject({ batches: 1, fresh: 0, stale: 0, waiting: 0, failed: 1, output: { kind: 'stale', output: 'out/legos.json' } });
    // A fresh batch is fresh only, not also waiting.
    expect(s.phases.find((p) => p.phase === 'pairs')).toMatchObject({ fresh: 1, stale: 0, waiting: 0, failed: 0, output: { kind: 'fresh' } });
    expect(s.notFresh.map((x) => x.target)).toEqual(['legos#1']);
    expect(s.failures.map((f) => f.target)).toEqual(['legos#1']);
    await b.editSeed('S0001', 'edited');
    const after = await b.status();
    expect(after.phases.find((p) => p.phase === 'pairs')).toMatchObject({ fresh: 0, stale: 1 });
    const legos = after.phases.find((p) => p.phase === 'legos')!;
    expect(legos.fresh + legos.stale + legos.waiting + legos.failed).toBe(1);
  });
});
