import { describe, expect, it } from 'vitest';
import { refsCount } from '../src/engine/fingerprint.js';
import { State } from '../src/store/state.js';
import { World } from './helpers/memory.js';

const THREE = [{ name: 'pairs' }, { name: 'legos' }, { name: 'baskets' }];

describe('engine (in memory)', () => {
  it('builds every batch once, then finds everything fresh', async () => {
    const w = await World.create(THREE, 50);
    const first = await w.build();
    expect(first.agentRuns).toHaveLength(9);
    expect(first.merged).toEqual(['out/pairs.json', 'out/legos.json', 'out/baskets.json']);
    expect(w.output('baskets').map((i) => i.text)[49]).toBe('baskets(legos(pairs(seed 50)))');
    const second = await w.build();
    expect(second.agentRuns).toEqual([]);
    expect(second.fresh).toHaveLength(9);
    expect(second.merged).toEqual([]);
  });

  it('one seed edited: one batch per phase; reverting it reuses the earlier outputs without an agent run', async () => {
    const w = await World.create(THREE, 60);
    await w.build();
    w.editSeed('S0041', 'changed');
    expect((await w.build()).agentRuns).toEqual(['baskets#3', 'legos#3', 'pairs#3']);
    w.editSeed('S0041', 'seed 41');
    const back = await w.build();
    expect(back.agentRuns).toEqual([]);
    expect(back.merged).toHaveLength(3);
    expect(w.output('pairs')[40]!.text).toBe('pairs(seed 41)');
  });

  it('early cutoff: an upstream rerun with identical output leaves downstream fresh', async () => {
    const w = await World.create(THREE, 40);
    await w.build();
    w.intelligence.set('prompts/legos.md', '# legos, reworded\n');
    const r = await w.build();
    expect(r.agentRuns).toEqual(['legos#1', 'legos#2']);
    expect(r.fresh.filter((t) => t.startsWith('baskets')).sort()).toEqual(['baskets#1', 'baskets#2']);
    expect(r.merged).toEqual([]);
  });

  it('a failed batch stops only its own chain; the merge is not written; the next build runs only that chain', async () => {
    const w = await World.create(THREE, 60);
    w.agent = (req) =>
      req.phase === 'legos' && req.batch === 2 ? { ok: false, failure: { kind: 'exit', code: 1, detail: 'boom' } } : { ok: true, output: JSON.stringify(req.inputItems.map((it) => ({ id: it.id, text: `${req.phase}(${String(it.text)})` }))) };
    const r = await w.build();
    expect(r.failed).toEqual(['legos#2']);
    expect(r.skipped).toEqual(['baskets#2']);
    expect(r.merged).toEqual(['out/pairs.json']);
    expect(w.runs.filter((x) => x.target === 'legos#2').map((x) => x.attempt)).toEqual([1, 2, 3]);
    const failure = w.state.failure('legos#2' as never);
    expect(failure?.errors.map((e) => e.message)).toEqual(Array(3).fill('the agent exited with code 1: boom'));
    w.agent = (await import('./helpers/memory.js')).echoAgent;
    const again = await w.build();
    expect(again.agentRuns).toEqual(['baskets#2', 'legos#2']);
    expect(again.merged).toEqual(['out/legos.json', 'out/baskets.json']);
  });

  it('an invalid answer is retried with the errors, naming the item, in the next prompt', async () => {
    const w = await World.create([{ name: 'pairs', validate: (items) => items.filter((i) => String(i.text).includes('bad')).map((i) => ({ item: String(i.id), message: 'contains "bad"' })) }], 20);
    w.agent = (req) => ({
      ok: true,
      output: JSON.stringify(req.inputItems.map((it) => ({ id: it.id, text: req.attempt === 1 && it.id === 'S0007' ? 'bad' : 'good' }))),
    });
    const r = await w.build();
    expect(r.ran).toEqual(['pairs#1']);
    expect(w.runs.map((x) => x.attempt)).toEqual([1, 2]);
    expect(w.runs[1]!.prompt.task).toContain('- S0007: contains "bad"');
    expect(w.runs[0]!.prompt.task).not.toContain('Fix these errors');
    expect(w.events.find((e) => e.event === 'retried')).toMatchObject({ target: 'pairs#1', attempt: 2, errors: [{ item: 'S0007', source: 'validator' }] });
  });

  it('built-in checks name missing, extra and duplicate ids', async () => {
    const w = await World.create([{ name: 'pairs', attempts: 1 }], 3);
    w.agent = () => ({ ok: true, output: JSON.stringify([{ id: 'S0001' }, { id: 'S0001' }, { id: 'S9999' }]) });
    await w.build();
    expect(w.state.failure('pairs#1' as never)?.errors.map((e) => `${e.item}: ${e.message}`)).toEqual([
      'S0001: S0001 appears more than once',
      'S9999: S9999 is not an input item of this batch',
      'S0002: S0002 is missing from the output',
      'S0003: S0003 is missing from the output',
    ]);
  });

  it('stores a batch in input order whatever order the agent answered in', async () => {
    const w = await World.create([{ name: 'pairs' }], 5);
    w.agent = (req) => ({ ok: true, output: JSON.stringify(req.inputItems.map((it) => ({ id: it.id })).reverse()) });
    await w.build();
    expect(w.output('pairs').map((i) => i.id)).toEqual(['S0001', 'S0002', 'S0003', 'S0004', 'S0005']);
  });

  it('never runs more than -j agents at once', async () => {
    const w = await World.create([{ name: 'pairs' }, { name: 'legos' }], 200);
    w.jobs = 3;
    let now = 0;
    let peak = 0;
    const base = w.agent;
    w.agent = async (req) => {
      now++;
      peak = Math.max(peak, now);
      await new Promise((r) => setImmediate(r));
      now--;
      return base(req);
    };
    const r = await w.build();
    expect(r.ran).toHaveLength(20);
    expect(peak).toBe(3);
  });

  it('a cancelled build records nothing for the batches it stopped', async () => {
    const w = await World.create([{ name: 'pairs' }], 60);
    const ctl = new AbortController();
    const base = w.agent;
    w.agent = async (req) => {
      if (req.batch === 2) {
        ctl.abort();
        return { ok: false, failure: { kind: 'cancelled' } };
      }
      return base(req);
    };
    w.jobs = 1;
    const r = await w.build([], ctl.signal);
    expect(r.ran).toEqual(['pairs#1']);
    expect(r.cancelled.sort()).toEqual(['pairs#2', 'pairs#3']);
    expect(w.state.lastSuccess('pairs#2' as never)).toBeUndefined();
    expect(w.state.failure('pairs#2' as never)).toBeUndefined();
    expect(w.outputs.files.size).toBe(0);
  });

  it('seeds moved to another batch are found by content, not rerun', async () => {
    const w = await World.create([{ name: 'pairs' }], 40);
    await w.build();
    // Swap the two batches wholesale: every batch's inputs were built before, under the other number.
    w.seeds = [...w.seeds.slice(20), ...w.seeds.slice(0, 20)];
    const r = await w.build();
    expect(r.agentRuns).toEqual([]);
    expect(w.output('pairs').map((i) => i.id)[0]).toBe('S0021');
  });

  it('a merged output touched or rewritten identically is left alone; a hand edit is kept aside and replaced', async () => {
    const w = await World.create([{ name: 'pairs' }], 20);
    await w.build();
    const f = w.outputs.files.get('out/pairs.json')!;
    w.outputs.files.set('out/pairs.json', { text: f.text, stamp: { ...f.stamp, mtimeNs: '999' } });
    expect((await w.build()).merged).toEqual([]);
    w.outputs.files.set('out/pairs.json', { text: '[]', stamp: { ...f.stamp, mtimeNs: '1000' } });
    const r = await w.build();
    expect(r.merged).toEqual(['out/pairs.json']);
    // The edited file is kept aside (the event says where: `why.kept`; the NDJSON line's `replaced`).
    expect(w.events.find((e) => e.event === 'merged' && e.why.kind === 'edited' && e.why.kept)).toBeDefined();
    expect(w.output('pairs')).toHaveLength(20);
  });
});

describe('-j', () => {
  it('bounds the agents running at once, and uses every slot', async () => {
    const w = await World.create([{ name: 'pairs' }, { name: 'legos' }], 200);
    w.jobs = 2;
    let running = 0;
    let most = 0;
    w.agent = async (req) => {
      running++;
      most = Math.max(most, running);
      // Let everything else that can start, start, before this one ends.
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
      running--;
      return { ok: true, output: JSON.stringify(req.inputItems) };
    };
    const r = await w.build();
    expect(r.ran).toHaveLength(20);
    expect(most).toBe(2);
  });
});

describe('state log', () => {
  it('ignores a torn last line, keeps earlier records, and compacts to the live ones', async () => {
    const w = await World.create([{ name: 'pairs' }], 40);
    await w.build();
    const lines = w.state.live().map((r) => JSON.stringify(r));
    const s = new State(null);
    s.load(`${lines.join('\n')}\n${lines[0]!.slice(0, 30)}`);
    expect(refsCount(s.lastSuccess('pairs#1' as never)!.items)).toBe(20);
    expect(s.live()).toHaveLength(lines.length);
    for (let i = 0; i < 500; i++) s.append({ t: 'merge', phase: 'pairs', path: 'out/pairs.json', key: 'k' as never, file: { hash: 'h' as never, size: 1, mtimeNs: '1', ino: 1 }, items: 1, at: 'now' });
    expect(s.needsCompaction()).toBe(true);
  });

  it('compacts when superseded merge records outweigh the current ones, however few they are', () => {
    const s = new State(null);
    // A large phase's merge record holds every batch's place in the file: tens of kB, one per build.
    const spans = Array.from({ length: 1000 }, (_, i) => ['0123456789abcdef', i * 10000, i * 10000 + 9998, 20]);
    const merge = (i: number) => ({ t: 'merge', phase: 'p', path: 'out/p.json', key: `k${i}`, file: { hash: 'h', size: 1, mtimeNs: '1', ino: 1 }, items: 20000, at: 'now', byteSpans: spans }) as never;
    s.append(merge(0));
    const size = JSON.stringify(merge(0)).length;
    let builds = 1;
    while (!s.needsCompaction() && builds < 1000) s.append(merge(builds++));
    // Far fewer than the few hundred superseded lines the line count alone waits for.
    expect(builds).toBeLessThan(200);
    expect(builds * size).toBeGreaterThan(2 << 20);
  });
});

describe('state compaction and history', () => {
  it('keeps current records in the log, superseded ones in a history read only on a miss', async () => {
    const { mkdtemp, readFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const { FileSink } = await import('../src/store/fileSink.js');
    const dir = await mkdtemp(path.join(tmpdir(), 'cf-state-'));
    try {
      const w = await World.create([{ name: 'pairs' }], 20);
      await w.build();
      const first = w.state.lastSuccess('pairs#1' as never)!;
      w.editSeed('S0001', 'changed');
      await w.build();
      const second = w.state.lastSuccess('pairs#1' as never)!;
      const log = path.join(dir, 'records.log');
      const s = new State(new FileSink(log));
      s.append(first);
      s.append(second);
      await s.compact();
      s.close();
      expect((await readFile(log, 'utf8')).trim().split('\n')).toHaveLength(1);
      expect(await readFile(path.join(dir, 'history.log'), 'utf8')).toContain(first.key);
      const again = new State(new FileSink(log));
      again.load(await readFile(log, 'utf8'));
      expect(again.lastSuccess('pairs#1' as never)?.key).toBe(second.key);
      expect(again.withKey(first.key)?.out).toBe(first.out); // from the history
      expect(again.lastSuccess('pairs#1' as never)?.key).toBe(second.key); // still the newest

      // Compaction appends to the history without reading it; a forget goes along, so a later read of the
      // history still forgets what was forgotten.
      again.close();
      w.editSeed('S0001', 'changed again');
      await w.build();
      const third = w.state.lastSuccess('pairs#1' as never)!;
      const reopen = async (): Promise<State> => {
        const st = new State(new FileSink(log));
        st.load(await readFile(log, 'utf8'));
        return st;
      };
      const s3 = await reopen();
      s3.append(third);
      await s3.compact();
      s3.close();
      const history = await readFile(path.join(dir, 'history.log'), 'utf8');
      expect(history.indexOf(first.key)).toBeGreaterThanOrEqual(0);
      expect(history.indexOf(first.key)).toBeLessThan(history.indexOf(second.key));
      const s4 = await reopen();
      expect(s4.withKey(second.key)?.out).toBe(second.out);
      expect(s4.lastSuccess('pairs#1' as never)?.key).toBe(third.key);
      s4.close();
      const s5 = await reopen();
      s5.append({ t: 'forget', target: 'pairs#1' as never, at: 'now' });
      await s5.compact();
      s5.close();
      expect(await readFile(path.join(dir, 'history.log'), 'utf8')).toContain('"t":"forget"');
      const after = await reopen();
      expect(after.withKey(first.key)).toBeUndefined();
      expect(after.withKey(third.key)).toBeUndefined();
      expect(after.lastSuccess('pairs#1' as never)).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
