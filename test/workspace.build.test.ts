import { utimes } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { describeStatus } from '../src/cli/format/statuses.js';
import { formatStaleReason } from '../src/cli/format/reasons.js';
import { formatUserError } from '../src/util/errors.js';
import { seedsJson } from './helpers/project.js';
import { Bench, twoBuildsAtOnce } from './helpers/workspace.js';
import { eventText } from '../src/cli/format/events.js';

/*
 * cf build's decisions, through the composed Workspace in memory (test/helpers/workspace.ts): what runs,
 * what is recorded, what is merged, what explain, status and a dry run say. Moved here from the CLI tests
 * (build.cli, emptySeeds.cli, seeds-validate.cli, inputChanged.cli, crash.cli), with their assertions.
 */

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `S${String(i + 1).padStart(4, '0')}`);

let bench: Bench | undefined;
afterEach(async () => {
  await bench?.remove();
  bench = undefined;
});

async function built(seeds = 60): Promise<Bench> {
  bench = await Bench.create({ seeds });
  const r = await bench.build();
  expect(r.exitCode).toBe(0);
  return bench;
}

describe('cf build (the Workspace, in memory)', () => {
  it('runs every batch once, then nothing', async () => {
    bench = await Bench.create({ seeds: 60 });
    const first = await bench.build();
    expect(first.exitCode).toBe(0);
    expect(first.ran).toEqual(['legos#1', 'legos#2', 'legos#3', 'pairs#1', 'pairs#2', 'pairs#3']);
    expect(first.runs.every((r) => r.count === 3 && r.attempt === 1)).toBe(true);
    expect(first.events.find((e) => e.event === 'ran' && e.target === 'pairs#2')).toMatchObject({ batch: 2, batchCount: 3, phase: 'pairs', items: 20 });

    const merged = JSON.parse(bench.output('out/legos.json')!) as Array<{ id: string; text: string }>;
    expect(merged.map((m) => m.id)).toEqual(ids(60));
    expect(merged[0]!.text).toBe('legos(pairs(seed number 1))');

    const second = await bench.build();
    expect(second.exitCode).toBe(0);
    expect(second.runs).toEqual([]);
    expect(second.summary).toMatchObject({ ran: [], fresh: expect.any(Array) });
    expect(second.summary.fresh).toHaveLength(6);
  });

  it('reruns exactly one batch per phase when one seed changes, nothing when the file is touched or rewritten', async () => {
    const b = await built();
    await b.editSeed('S0025', 'an edited seed');
    const r = await b.build();
    expect(r.exitCode).toBe(0);
    expect(r.ran).toEqual(['legos#2', 'pairs#2']);
    expect(r.runs.map((x) => x.ids[0])).toEqual(['S0021', 'S0021']);
    expect(b.output('out/legos.json')).toContain('legos(pairs(an edited seed))');

    const mark = b.runs.length;
    const text = await b.read('seeds.json');
    await utimes(b.file('seeds.json'), new Date(), new Date(Date.now() + 5000));
    expect((await b.build()).exitCode).toBe(0);
    await b.write('seeds.json', text);
    expect((await b.build()).exitCode).toBe(0);
    // Reformatting the file without changing any seed's content is no change either.
    await b.write('seeds.json', JSON.stringify(JSON.parse(text)));
    expect((await b.build()).exitCode).toBe(0);
    expect(b.runs.slice(mark)).toEqual([]);
  });

  it('reruns a phase when its intelligence changes, and downstream only where its output changed', async () => {
    const b = await built();
    await b.write('prompts/pairs.md', '# Pairs\nTranslate each seed, carefully.\nSUFFIX-FOR S0045: !\n');
    const dry = await b.dryRun();
    const row = (t: string) => dry.rows.find((s) => s.target === t)!;
    expect(row('pairs#1').kind).toBe('stale');
    expect(describeStatus(row('pairs#1'))).toBe('intelligence prompts/pairs.md changed');
    expect(row('legos#1').kind).toBe('pending');
    expect(b.runs).toHaveLength(6);

    const r = await b.build();
    expect(r.exitCode).toBe(0);
    expect(r.ran).toEqual(['legos#3', 'pairs#1', 'pairs#2', 'pairs#3']);
    const fresh = r.events.filter((e) => e.event === 'fresh').map((e) => (e as { target: string }).target);
    expect(fresh.sort()).toEqual(['legos#1', 'legos#2']);
    expect(r.summary.ran.slice().sort()).toEqual(['legos#3', 'pairs#1', 'pairs#2', 'pairs#3']);
    expect(b.output('out/legos.json')).toContain('legos(pairs(seed number 45)!)');
  });

  it('retries an invalid output with the error naming the item in the next prompt', async () => {
    bench = await Bench.create({ seeds: 40 });
    bench.knobs = { flaky: ['S0007'] };
    const r = await bench.build(['pairs']);
    expect(r.exitCode).toBe(0);
    expect(r.runs.filter((x) => x.batch === 1).map((x) => x.attempt)).toEqual([1, 2]);
    const retried = r.events.find((e) => e.event === 'retried');
    expect(retried).toMatchObject({ target: 'pairs#1', attempt: 2, errors: [expect.objectContaining({ item: 'S0007', message: 'S0007 is missing from the output' })] });
    const prompt = r.runs.find((x) => x.batch === 1 && x.attempt === 2)!.prompt;
    expect(prompt).toContain('This is attempt 2 of 3');
    expect(prompt).toContain('- S0007: S0007 is missing from the output');
    expect(JSON.parse(bench.output('out/pairs.json')!)).toHaveLength(40);
  });

  it('finishes the other batches when one always fails, exits 1, and next time runs only the failed chain', async () => {
    bench = await Bench.create({ seeds: 60 });
    bench.knobs = { fail: ['S0030'], onlyPhase: 'pairs' };
    const r = await bench.build();
    expect(r.exitCode).toBe(1);
    expect(r.runs.filter((x) => x.phase === 'pairs' && x.batch === 2).map((x) => x.attempt)).toEqual([1, 2, 3]);
    expect(r.ran.filter((t) => t !== 'pairs#2')).toEqual(['legos#1', 'legos#3', 'pairs#1', 'pairs#3']);
    expect(r.events.find((e) => e.event === 'failed')).toMatchObject({ target: 'pairs#2', attempts: 3 });
    expect(r.events.find((e) => e.event === 'skipped')).toMatchObject({ target: 'legos#2' });
    expect(r.events.filter((e) => e.event === 'merge-skipped').map((e) => (e as { output: string }).output).sort()).toEqual(['out/legos.json', 'out/pairs.json']);
    expect(r.summary).toMatchObject({ failed: ['pairs#2'], skipped: ['legos#2'] });
    expect(bench.output('out/pairs.json')).toBeNull();

    const status = await bench.status();
    expect(status.failures).toMatchObject([{ target: 'pairs#2', attempts: 3 }]);
    expect(status.failures[0]!.errors).toHaveLength(3);
    expect(status.failures[0]!.errors[2]!.message).toContain('fake agent: refusing S0030');
    expect(status.phases.find((p) => p.phase === 'pairs')).toMatchObject({ fresh: 2, failed: 1, stale: 0 });

    bench.knobs = {};
    const again = await bench.build();
    expect(again.exitCode).toBe(0);
    expect(again.ran).toEqual(['legos#2', 'pairs#2']);
    expect(JSON.parse(bench.output('out/legos.json')!)).toHaveLength(60);
  });

  it('explains what changed, and a dry run runs nothing', async () => {
    const b = await built();
    await b.editSeed('S0003', 'changed');
    const [pairs1] = await b.explain(['pairs#1']);
    expect(pairs1).toMatchObject({ kind: 'batch', span: ['S0001', 'S0020'], status: { kind: 'stale' } });
    const p1 = pairs1!;
    expect(p1.kind === 'batch' && p1.status.kind === 'stale' && p1.status.reasons.map(formatStaleReason)).toContain('seed S0003 changed');
    const [legos1] = await b.explain(['legos#1']);
    const l1 = legos1!;
    expect(l1.kind === 'batch' && describeStatus(l1.status)).toContain('runs only if its output changes');
    const [pairs2] = await b.explain(['pairs#2']);
    expect(pairs2).toMatchObject({ kind: 'batch', status: { target: 'pairs#2', kind: 'fresh' } });
    const dry = await b.dryRun();
    expect(dry.rows.filter((s) => s.kind === 'stale').map((s) => s.target)).toEqual(['pairs#1']);
    expect(dry.rows.filter((s) => s.kind === 'pending').map((s) => s.target)).toEqual(['legos#1']);
    expect(b.runs).toHaveLength(6);
    // The edit is then built: explain says fresh.
    await b.build();
    const after = (await b.explain(['pairs#1']))[0]!;
    expect(after.kind === 'batch' && describeStatus(after.status)).toContain('fresh: inputs unchanged since');
  });

  it('builds one batch, one phase output, or an output by file name; a bad target says what exists', async () => {
    bench = await Bench.create({ seeds: 45 });
    const one = await bench.build(['legos#3']);
    expect(one.exitCode).toBe(0);
    expect(one.ran).toEqual(['legos#3', 'pairs#3']);
    expect(bench.output('out/legos.json')).toBeNull();
    const byName = await bench.build(['pairs.json']);
    expect(byName.ran).toEqual(['pairs#1', 'pairs#2']);
    expect(JSON.parse(bench.output('out/pairs.json')!)).toHaveLength(45);
    const ws = await bench.open();
    const bad = ws.targets(['pairs#9']);
    expect(!bad.ok && formatUserError(bad.error)).toContain('phase pairs has batches 1 to 3');
    const typo = ws.targets(['lego.json']);
    expect(!typo.ok && formatUserError(typo.error)).toContain('did you mean "legos.json"');
  });

  it('a hand edit of a merged output feeds downstream, like a newer intermediate file in make', async () => {
    const b = await built();
    const pairs = JSON.parse(b.output('out/pairs.json')!) as Array<{ id: string; text: string }>;
    pairs[24]!.text = 'pairs(hand-fixed)';
    await b.editOutput('out/pairs.json', JSON.stringify(pairs));
    const r = await b.build();
    expect(r.exitCode).toBe(0);
    expect(r.events.find((e) => e.event === 'edit-taken')).toMatchObject({ output: 'out/pairs.json', targets: ['pairs#2'] });
    expect(r.ran).toEqual(['legos#2']);
    expect(b.output('out/legos.json')).toContain('legos(pairs(hand-fixed))');
    expect(JSON.parse(b.output('out/pairs.json')!)[24].text).toBe('pairs(hand-fixed)');
    const [explained] = await b.explain(['pairs#2']);
    expect(explained).toMatchObject({ status: { kind: 'fresh' } });

    // An edit that drops an item is not taken: the file is kept aside and written again.
    await b.editOutput('out/pairs.json', JSON.stringify(pairs.slice(1)));
    const bad = await b.build();
    expect(bad.events.find((e) => e.event === 'edit-rejected')).toMatchObject({
      output: 'out/pairs.json',
      target: 'pairs#1',
      errors: [expect.objectContaining({ item: 'S0001', message: 'S0001 is missing from the output' })],
    });
    expect(eventText(bad.events.find((e) => e.event === 'merged' && e.output === 'out/pairs.json')!)).toMatchObject({ replaced: 'out/pairs.json.replaced', reason: expect.stringMatching(/edited by hand; the edited copy is kept at out\/pairs\.json\.replaced/) });
    expect(JSON.parse(b.output('out/pairs.json')!)).toHaveLength(60);
    expect(bad.runs).toEqual([]);
  });
});

describe('cf build from a seeds file with no seeds (the Workspace, in memory)', () => {
  it('refuses (nothing touched) when the outputs hold items; --allow-empty-seeds builds it', async () => {
    const b = await built();
    const before = { pairs: b.output('out/pairs.json'), records: b.store.targets().map((t) => b.store.lastSuccess(t)) };
    await b.write('seeds.json', '[]\n');
    const r = await b.tryBuild();
    if (!('error' in r)) throw new Error('expected the build to be refused');
    expect(r.error.kind).toBe('seeds');
    const message = formatUserError(r.error);
    expect(message).toContain('cf: error: seeds.json: holds no seeds, but out/pairs.json (60 items), out/legos.json (60 items) were built from some');
    expect(message).toContain('cf build --allow-empty-seeds');
    expect(b.output('out/pairs.json')).toBe(before.pairs);
    expect(b.store.targets().map((t) => b.store.lastSuccess(t))).toEqual(before.records);
    const meant = await b.build([], { allowEmptySeeds: true });
    expect(meant.exitCode).toBe(0);
    expect(JSON.parse(b.output('out/pairs.json')!)).toEqual([]);
  });

  it('a project never built with seeds builds from none without asking', async () => {
    bench = await Bench.create({ seeds: 0 });
    const r = await bench.build();
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(bench.output('out/pairs.json')!)).toEqual([]);
  });
});

describe('seeds formats (the Workspace, in memory)', () => {
  const onePhase = (seeds: string): string => `seeds: ${seeds}
batch_size: 2
runners:
  fake: {command: [node, fake-agent.mjs]}
phases:
  - name: pairs
    intelligence: prompts/pairs.md
    runner: fake
    output: out/pairs.json
`;

  it('.txt seeds are numbered S0001, S0002, … (blank lines skipped); .jsonl is one object a line, a duplicate id is an error with its line', async () => {
    bench = await Bench.create({ pipeline: onePhase('seeds.txt'), files: { 'seeds.txt': 'first\n\nsecond\nthird\n', 'fake-agent.mjs': '' } });
    expect((await bench.build()).exitCode).toBe(0);
    expect(JSON.parse(bench.output('out/pairs.json')!)).toEqual([
      { id: 'S0001', text: 'pairs(first)' },
      { id: 'S0002', text: 'pairs(second)' },
      { id: 'S0003', text: 'pairs(third)' },
    ]);
    await bench.write('pipeline.yaml', onePhase('seeds.jsonl').replace('seeds: seeds.jsonl', 'seeds: seeds.jsonl\nid: key'));
    await bench.write('seeds.jsonl', '{"key": "a", "text": "x"}\n{"key": "b", "text": "y"}\n{"key": "a", "text": "z"}\n');
    const dup = await bench.tryOpen();
    expect(dup.ok).toBe(false);
    expect(!dup.ok && dup.error.kind).toBe('seeds');
    expect(!dup.ok && formatUserError(dup.error)).toContain('seeds.jsonl:3: duplicate seed id "a" (first at line 1)');
  });
});

describe('an input edited while cf runs (the Workspace, in memory)', () => {
  const EDITED_LEGOS = '# Legos\nSplit each pair.\nSUFFIX-FOR S0005: (edited)\n';

  it('the batch that would read it is not built (not failed, nothing recorded), exit 1; the next build builds it', async () => {
    bench = await Bench.create({ seeds: 20 });
    await bench.write('seeds.json', seedsJson(20, (i) => (i === 5 ? 'gate me' : `seed number ${i}`)));
    bench.knobs = { gateText: 'gate me', onlyPhase: 'pairs' };
    const b = bench;
    const building = b.build();
    expect((await b.gated.next()).target).toBe('pairs#1');
    await b.write('prompts/legos.md', EDITED_LEGOS);
    b.release('pairs#1');
    const r = await building;
    expect(r.exitCode).toBe(1);
    expect(r.events.find((e) => e.event === 'cancelled')).toEqual({ event: 'cancelled', target: 'legos#1', because: 'prompts/legos.md changed while cf was running' });
    expect(r.events.some((e) => e.event === 'failed')).toBe(false);
    expect(r.summary).toMatchObject({ ran: ['pairs#1'], fresh: [], cancelled: ['legos#1'] });
    // Nothing recorded for it: no failure (nor any other).
    expect(b.store.targets().filter((t) => b.store.failure(t))).toEqual([]);
    expect(b.store.lastSuccess('legos#1' as never)).toBeUndefined();
    b.knobs = {};
    const again = await b.build();
    expect(again.exitCode).toBe(0);
    expect(again.summary).toMatchObject({ ran: ['legos#1'], failed: [], cancelled: [] });
    expect(b.output('out/legos.json')).toContain('legos(pairs(gate me))(edited)');
  });
});

describe('crashes and concurrency (the Workspace, in memory)', () => {
  it('a record torn by a crash mid-write is ignored and the batch reruns (the store on disk)', async () => {
    bench = await Bench.create({ seeds: 40 });
    bench.disk = true;
    expect((await bench.build(['pairs'])).exitCode).toBe(0);
    const log = await bench.read('.cf/records.log');
    const lines = log.trimEnd().split('\n');
    const last = lines.findLastIndex((l) => l.includes('"t":"batch"'));
    const target = (JSON.parse(lines[last]!) as { target: string }).target;
    // Cut the last batch record in half, as a kill -9 during its write would.
    lines[last] = lines[last]!.slice(0, 40);
    await bench.write('.cf/records.log', lines.slice(0, last + 1).join('\n'));
    const r = await bench.build(['pairs']);
    expect(r.exitCode).toBe(0);
    expect(r.ran).toEqual([target]);
    expect((await bench.build(['pairs'])).summary.ran).toEqual([]);
  });

  it('two builds at once: both done, no batch runs twice; the second waited for the lock and found everything fresh', async () => {
    bench = await Bench.create({ seeds: 60 });
    const [a, b] = await twoBuildsAtOnce(bench);
    expect(a.exitCode).toBe(0);
    expect(b.exitCode).toBe(0);
    expect(bench.runs.map((r) => r.target).sort()).toEqual(['legos#1', 'legos#2', 'legos#3', 'pairs#1', 'pairs#2', 'pairs#3']);
    const waited = [a, b].filter((r) => r.events.some((e) => e.event === 'waiting'));
    expect(waited).toHaveLength(1);
    expect(waited[0]!.events.find((e) => e.event === 'waiting')).toMatchObject({ reason: 'lock', command: 'build', pid: process.pid });
    expect(waited[0]!.summary).toMatchObject({ ran: [] });
    expect(waited[0]!.summary.fresh).toHaveLength(6);
  });
});
