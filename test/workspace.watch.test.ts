import { afterEach, describe, expect, it } from 'vitest';
import { exitCodeOf } from '../src/app/exitCode.js';
import { watchedFiles } from '../src/app/inputs.js';
import type { Engine } from '../src/engine/engine.js';
import { Budget } from '../src/exec/budget.js';
import { FAKE_AGENT, seedsJson, TWO_PHASES } from './helpers/project.js';
import { Bench, echoAnswer } from './helpers/workspace.js';
import { eventText } from '../src/cli/format/events.js';
import type { BuildEvent } from '../src/events/types.js';

/*
 * What cf watch decides, without its process: a rebuild after a change is a build of the Workspace opened
 * again (with the same store); a change during a build stops new batches (drain) and cancels the running
 * ones whose inputs changed (Engine.cancelOutdated with the new inputs), as cli/commands/watch.ts does.
 * Moved here from watch.cli, watch.inputs.cli and inputChanged.cli, with their assertions; the watcher
 * itself (file events, debounce, its own writes, a broken pipeline.yaml, Ctrl-C) stays in those files.
 */

let bench: Bench | undefined;
afterEach(async () => {
  await bench?.remove();
  bench = undefined;
});

/** The started events as NDJSON shows them: with their reasons in words (eventText). */
const started = (b: { events: BuildEvent[] }): Array<{ reasons: string[] }> => b.events.filter((e) => e.event === 'started').map((e) => eventText(e) as { reasons: string[] });

/** Resolves once every one of `targets` has a `ran` event (in any build of this bench). */
async function ranAll(b: Bench, targets: string[]): Promise<void> {
  const done = (): boolean => targets.every((t) => b.events.some((e) => e.event === 'ran' && e.target === t));
  while (!done()) await b.when((e) => e.event === 'ran');
}

/** What cf watch does when inputs change mid-build: no new batches start; the running ones whose inputs changed are cancelled. */
async function changedMidBuild(b: Bench, engine: Engine, drain: AbortController): Promise<void> {
  drain.abort();
  const next = await b.open();
  engine.cancelOutdated(next.inputs.decider(b.store));
}

/** A build that keeps its engine and drain for changedMidBuild, as cf watch's rebuild does. */
function watchedBuild(b: Bench): { built: ReturnType<Bench['build']>; engine: () => Engine; drain: AbortController } {
  const drain = new AbortController();
  let engine: Engine | undefined;
  const built = b.build([], { drain: drain.signal, command: 'watch', onEngine: (e) => (engine = e) });
  return { built, engine: () => engine!, drain };
}

describe('cf watch: what a change rebuilds (the Workspace, in memory)', () => {
  it('reruns exactly what an edit affects: an intelligence edit, a save without changes, a new batch size', async () => {
    bench = await Bench.create({ seeds: 60 });
    expect((await bench.build()).ran).toEqual(['legos#1', 'legos#2', 'legos#3', 'pairs#1', 'pairs#2', 'pairs#3']);

    await bench.write('prompts/pairs.md', '# Pairs\nTranslate each seed, with care.\n');
    const intel = await bench.build();
    expect(intel.ran).toEqual(['pairs#1', 'pairs#2', 'pairs#3']);
    expect(started(intel).every((e) => e.reasons.includes('intelligence prompts/pairs.md changed'))).toBe(true);

    await bench.write('seeds.json', await bench.read('seeds.json'));
    expect((await bench.build()).ran).toEqual([]);

    const good = await bench.read('pipeline.yaml');
    await bench.write('pipeline.yaml', good.replace('batch_size: 20', 'batch_size: 30'));
    expect((await bench.build()).ran).toEqual(['legos#1', 'legos#2', 'pairs#1', 'pairs#2']);
  });

  it('a merged output edited by hand is watched, taken, and reruns what reads it', async () => {
    bench = await Bench.create({ seeds: 60 });
    await bench.build();
    expect(watchedFiles((await bench.open()).pipeline)).toContain(bench.file('out/pairs.json'));
    const pairs = JSON.parse(bench.output('out/pairs.json')!) as Array<{ id: string; text: string }>;
    pairs[24]!.text = 'pairs(hand edited)';
    await bench.editOutput('out/pairs.json', `${JSON.stringify(pairs, null, 2)}\n`);
    const r = await bench.build();
    expect(r.events.find((e) => e.event === 'edit-taken')).toMatchObject({ output: 'out/pairs.json', targets: ['pairs#2'] });
    expect(r.ran).toEqual(['legos#2']);
    expect(bench.output('out/legos.json')).toContain('legos(pairs(hand edited))');
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
    bench = await Bench.create({ seeds: 60, pipeline, files: { 'agent.mjs': '// the agent\n', 'data/lexicon.json': '{"words": []}\n' } });
    expect((await bench.build()).ran).toHaveLength(6);
    const watched = watchedFiles((await bench.open()).pipeline);
    expect(watched).toEqual(expect.arrayContaining([bench.file('agent.mjs'), bench.file('data/lexicon.json')]));
    await bench.write('agent.mjs', `${await bench.read('agent.mjs')}// v2\n`);
    const script = await bench.build();
    expect(script.ran).toEqual(['pairs#1', 'pairs#2', 'pairs#3']);
    expect(started(script).every((e) => e.reasons.includes('runner file agent.mjs changed'))).toBe(true);
    await bench.write('data/lexicon.json', '{"words": ["hola"]}\n');
    const deps = await bench.build();
    expect(deps.ran).toEqual(['legos#1', 'legos#2', 'legos#3']);
    expect(started(deps)[0]).toMatchObject({ reasons: [expect.stringContaining('data/lexicon.json changed')] });
  });

  it('--max-cost is the budget of the whole watch session, not of each rebuild', async () => {
    const pipeline = `seeds: seeds.json
batch_size: 10
runners:
  claude: {preset: claude-code, model: claude-sonnet-4-5}
phases:
  - name: pairs
    intelligence: prompts/pairs.md
    runner: claude
    output: out/pairs.json
`;
    bench = await Bench.create({ seeds: 20, pipeline });
    // One attempt costs $0.0125 (as fake-claude says): $0.03 pays for the first build's two, not for a third.
    bench.runner = { priced: true };
    bench.agent = (req) => ({ ok: true, output: echoAnswer(req), usage: { inputTokens: 100, cacheWriteTokens: 0, cacheReadTokens: 0, outputTokens: 50, costUsd: 0.0125 } });
    const budget = new Budget(0.03);
    const first = await bench.build([], { jobs: 1, budget });
    expect(first.ran).toEqual(['pairs#1', 'pairs#2']);
    await bench.editSeed('S0005', 'an edited seed');
    const second = await bench.build([], { jobs: 1, budget });
    expect(second.ran).toEqual([]);
    expect(second.summary).toMatchObject({ stopped: ['pairs#1'] });
    expect(eventText(second.events.find((e) => e.event === 'stopped')!)).toMatchObject({ reason: expect.stringContaining('would exceed --max-cost $0.0300') });
    const spent = [first, second].reduce((n, r) => n + Object.values(r.summary.usage).reduce((m, u) => m + u.costUsd, 0), 0);
    expect(spent).toBeLessThanOrEqual(0.03);
  });
});

describe('cf watch: a change during a build (the Workspace, in memory)', () => {
  it('cancels the batch whose inputs changed (its agent stopped, nothing recorded) and runs it again', async () => {
    bench = await Bench.create({ seeds: 60 });
    await bench.write('seeds.json', seedsJson(60, (i) => (i === 25 ? 'please hang' : `seed number ${i}`)));
    bench.knobs = { hangText: 'hang' };
    const b = bench;
    const w = watchedBuild(b);
    // Batch 2 of pairs hangs; batches 1 and 3 finish.
    const hung = await b.hanging.next();
    expect(hung.target).toBe('pairs#2');
    await ranAll(b, ['pairs#1', 'pairs#3']);
    await b.editSeed('S0025', 'no longer stuck');
    await changedMidBuild(b, w.engine(), w.drain);
    const first = await w.built;
    expect(first.events.find((e) => e.event === 'cancelled' && e.target === 'pairs#2')).toBeDefined();
    expect(hung.signal.aborted).toBe(true);
    expect(b.store.lastSuccess('pairs#2' as never)).toBeUndefined();
    expect(b.store.failure('pairs#2' as never)).toBeUndefined();
    const again = await b.build();
    expect(again.summary.ran.slice().sort()).toEqual(['legos#2', 'pairs#2']);
    expect(b.output('out/legos.json')).toContain('legos(pairs(no longer stuck))');
  });

  it('items: independent: a change during a build cancels the packed run of the changed item and runs it again', async () => {
    const independent = TWO_PHASES().replace(/output: out\/(pairs|legos)\.json/g, 'output: out/$1.json\n    items: independent');
    bench = await Bench.create({ seeds: 60, pipeline: independent });
    await bench.write('seeds.json', seedsJson(60, (i) => (i === 25 ? 'please hang' : `seed number ${i}`)));
    bench.knobs = { hangText: 'hang' };
    const b = bench;
    const w = watchedBuild(b);
    // Each batch's 20 stale items are one run; batch 2's hangs, batches 1 and 3 finish.
    const hung = await b.hanging.next();
    expect(hung.target).toBe('pairs#2');
    await ranAll(b, ['pairs#1', 'pairs#3']);
    await b.editSeed('S0025', 'no longer stuck');
    await changedMidBuild(b, w.engine(), w.drain);
    const first = await w.built;
    expect(first.events.find((e) => e.event === 'cancelled' && e.target === 'pairs#2')).toBeDefined();
    expect(hung.signal.aborted).toBe(true);
    const again = await b.build();
    expect(again.summary.ran.slice().sort()).toEqual(['legos#2', 'pairs#2']);
    // None of the cancelled run's items was cached: all 20 are made again.
    expect(again.events.find((e) => e.event === 'ran' && e.target === 'pairs#2')).toMatchObject({ regenerated: 20 });
    expect(b.output('out/legos.json')).toContain('legos(pairs(no longer stuck))');
  });

  it('lets the batches it does not affect finish while the affected one is cancelled', async () => {
    bench = await Bench.create({ seeds: 60 });
    await bench.write('seeds.json', seedsJson(60, (i) => (i === 5 ? 'gate me' : i === 25 ? 'please hang' : `seed number ${i}`)));
    bench.knobs = { gateText: 'gate me', hangText: 'hang', onlyPhase: 'pairs' };
    const b = bench;
    const w = watchedBuild(b);
    // pairs#1 is held open by the test, pairs#2 hangs, pairs#3 (and legos#3 after it) finish.
    const unaffected = await b.gated.next();
    expect(unaffected.target).toBe('pairs#1');
    expect((await b.hanging.next()).target).toBe('pairs#2');
    await ranAll(b, ['pairs#3', 'legos#3']);
    await b.editSeed('S0025', 'no longer stuck');
    const cancelled = b.when((e) => e.event === 'cancelled' && e.target === 'pairs#2');
    await changedMidBuild(b, w.engine(), w.drain);
    await cancelled;
    expect(unaffected.signal.aborted).toBe(false);
    b.release('pairs#1');
    const first = await w.built;
    expect(first.summary.ran.slice().sort()).toEqual(['legos#3', 'pairs#1', 'pairs#3']);
    expect(first.summary.cancelled.slice().sort()).toEqual(['legos#1', 'legos#2', 'pairs#2']);
    const again = await b.build();
    expect(again.summary.ran.slice().sort()).toEqual(['legos#1', 'legos#2', 'pairs#2']);
    // pairs#1's agent ran once: it was not cancelled.
    expect(b.runs.filter((r) => r.target === 'pairs#1')).toHaveLength(1);
  });

  it('an input edited while a batch that reads it waits: cancelled (not failed), and built again with the new input', async () => {
    bench = await Bench.create({ seeds: 20 });
    await bench.write('seeds.json', seedsJson(20, (i) => (i === 5 ? 'gate me' : `seed number ${i}`)));
    bench.knobs = { gateText: 'gate me', onlyPhase: 'pairs' };
    const b = bench;
    expect(watchedFiles((await b.open()).pipeline)).toContain(b.file('prompts/legos.md'));
    const w = watchedBuild(b);
    expect((await b.gated.next()).target).toBe('pairs#1');
    await b.write('prompts/legos.md', '# Legos\nSplit each pair.\nSUFFIX-FOR S0005: (edited)\n');
    b.release('pairs#1');
    const first = await w.built;
    expect(first.events.find((e) => e.event === 'cancelled')).toMatchObject({ target: 'legos#1', because: 'prompts/legos.md changed while cf was running' });
    expect(first.events.filter((e) => e.event === 'failed')).toEqual([]);
    expect(first.summary).toMatchObject({ ran: ['pairs#1'], failed: [], cancelled: ['legos#1'] });
    // cf watch counts it as done: it builds it again itself, at once.
    expect(exitCodeOf(first.summary, false, { rebuildsCancelled: true })).toBe(0);
    const again = await b.build();
    expect(again.ran).toEqual(['legos#1']);
    expect(b.output('out/legos.json')).toContain('legos(pairs(gate me))(edited)');
  });
});
