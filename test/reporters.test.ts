import { afterEach, describe, expect, it } from 'vitest';
import { HumanReporter, JsonReporter, type Reporter } from '../src/cli/reporters.js';
import { WatchReporter } from '../src/cli/watchReporter.js';
import type { BuildEvent } from '../src/events/types.js';
import { seedsJson } from './helpers/project.js';
import { Bench, Sink, summaryEvent, twoBuildsAtOnce, type Built } from './helpers/workspace.js';

/*
 * The reporters own what cf prints of a build: here they are fed the events of real builds (the Workspace
 * in memory) and write to a sink. The wording the CLI tests checked on stdout is checked here (moved from
 * build.cli, inputChanged.cli and crash.cli); cf's own process output stays checked once in build.cli.
 */

let bench: Bench | undefined;
afterEach(async () => {
  await bench?.remove();
  bench = undefined;
});

/** What a reporter prints of these builds' events, each followed by its summary (as cf build prints it). */
function printed(builds: Built[], make: (out: Sink) => Reporter = (out) => new HumanReporter({ tty: false, quiet: false, verbose: false }, out, out)): string {
  const out = new Sink();
  const r = make(out);
  for (const b of builds) {
    for (const e of b.events) r.event(e);
    r.event(summaryEvent(b));
  }
  r.close();
  return out.text;
}

describe('cf build prints (HumanReporter)', () => {
  it('a line per batch done, and the summary: what ran, what was fresh', async () => {
    bench = await Bench.create({ seeds: 60 });
    const first = printed([await bench.build()]);
    expect(first).toMatch(/batch 2\/3 of pairs done: 20 items, \d/);
    expect(first).toContain('cf: 60 seeds, 6 batch targets: 0 fresh, 6 to run (-j 4)');
    expect(first).toContain('wrote out/pairs.json: 60 items from 3 batches');
    expect(first).toMatch(/\ncf: done: 6 ran, 0 fresh in 1\.2 s\n$/);
    expect(printed([await bench.build()])).toContain('cf: done: 0 ran, 6 fresh in');
  });

  it('an invalid output retried: the errors, naming the item; quiet prints failures only', async () => {
    bench = await Bench.create({ seeds: 40 });
    bench.knobs = { flaky: ['S0007'] };
    const text = printed([await bench.build(['pairs'])]);
    expect(text).toContain('batch 1/2 of pairs: attempt 1 rejected, retrying (2/3):\n    S0007: S0007 is missing from the output\n');
    expect(text).toMatch(/batch 1\/2 of pairs done: 20 items, [^,]+, 2 attempts\n/);
    bench.knobs = { fail: ['S0030'], onlyPhase: 'pairs' };
    await bench.write('seeds.json', seedsJson(40, (i) => `edited ${i}`));
    const failed = await bench.build(['pairs']);
    const quiet = printed([failed], (out) => new HumanReporter({ tty: false, quiet: true, verbose: false }, out, out));
    expect(quiet).toContain('batch 2/2 of pairs FAILED after 3 attempts:\n    the agent exited with code 1: fake agent: refusing S0030\n');
    expect(quiet).not.toContain('done:');
    expect(quiet).toContain('cf: FAILED: 1 ran, 0 fresh, 1 failed in');
    expect(quiet).toContain('  failed: pairs#2\n  see `cf status`');
  });

  it('hand edits: the one taken, the one refused and the file kept aside', async () => {
    bench = await Bench.create({ seeds: 60 });
    await bench.build();
    const pairs = JSON.parse(bench.output('out/pairs.json')!) as Array<{ id: string; text: string }>;
    pairs[24]!.text = 'pairs(hand-fixed)';
    await bench.editOutput('out/pairs.json', JSON.stringify(pairs));
    expect(printed([await bench.build()])).toContain('took the hand edit of out/pairs.json as corrections (corrections/pairs.jsonl): pairs#2 now show the edited items');
    await bench.editOutput('out/pairs.json', JSON.stringify(pairs.slice(1)));
    const bad = printed([await bench.build()]);
    expect(bad).toContain('did not take the hand edit of out/pairs.json for pairs#1');
    expect(bad).toContain('S0001 is missing from the output');
    expect(bad).toMatch(/wrote out\/pairs\.json: 60 items from 3 batches \(out\/pairs\.json was edited by hand; the edited copy is kept at /);
  });

  it('a batch not built because its input changed while cf ran: said so, "not done", and what to do', async () => {
    bench = await Bench.create({ seeds: 20 });
    await bench.write('seeds.json', seedsJson(20, (i) => (i === 5 ? 'gate me' : `seed number ${i}`)));
    bench.knobs = { gateText: 'gate me', onlyPhase: 'pairs' };
    const b = bench;
    const building = b.build();
    await b.gated.next();
    await b.write('prompts/legos.md', '# Legos\nSplit each pair.\nSUFFIX-FOR S0005: (edited)\n');
    b.release('pairs#1');
    const r = await building;
    expect(r.exitCode).toBe(1);
    const text = printed([r]);
    expect(text).toContain('legos#1 not built: prompts/legos.md changed while cf was running');
    expect(text).toContain('cf: not done: 1 ran, 0 fresh, 1 not built (input changed) in');
    expect(text).toContain('run cf build again');
    expect(text).not.toContain('FAILED');
  });

  it('a build that waited for the lock says for whom, then finds the work done', async () => {
    bench = await Bench.create({ seeds: 60 });
    const [a, b] = await twoBuildsAtOnce(bench);
    const texts = [printed([a]), printed([b])];
    const waited = texts.filter((t) => t.includes('waiting for another cf in this directory'));
    expect(waited).toHaveLength(1);
    expect(waited[0]).toContain(`cf: waiting for another cf in this directory (pid ${process.pid}, cf build) to finish…`);
    expect(waited[0]).toContain('0 ran, 6 fresh');
  });
});

describe('cf watch prints (WatchReporter): a line per rebuild', () => {
  it('the initial build, then what changed, what ran and why', async () => {
    bench = await Bench.create({ seeds: 60 });
    await bench.build();
    const initial = await bench.build();
    await bench.editSeed('S0025', 'an edited seed');
    const edited = await bench.build();
    await bench.write('prompts/pairs.md', await bench.read('prompts/pairs.md'));
    const unchanged = await bench.build();
    const changed = (files: string[]): BuildEvent => ({ event: 'changed', files });
    const out = new Sink();
    const r = new WatchReporter(out);
    for (const [b, files] of [[initial, null], [edited, ['seeds.json']], [unchanged, ['prompts/pairs.md']]] as const) {
      if (files) r.event(changed([...files]));
      for (const e of b.events) r.event(e);
      r.event(summaryEvent(b));
    }
    expect(out.lines[0]).toMatch(/^\d\d:\d\d:\d\d initial build: nothing to run; 0 ran, 6 fresh in /);
    expect(out.lines[1]).toMatch(/^\d\d:\d\d:\d\d seeds\.json changed: ran pairs#2, legos#2 \(seed S0025 changed; .*\); 2 ran, 4 fresh in /);
    expect(out.lines[2]).toMatch(/^\d\d:\d\d:\d\d prompts\/pairs\.md changed: nothing to run; 0 ran, 6 fresh in /);
    expect(out.lines).toHaveLength(3);
  });

  it('failures go below the line', async () => {
    bench = await Bench.create({ seeds: 40 });
    bench.knobs = { fail: ['S0030'], onlyPhase: 'pairs' };
    const text = printed([await bench.build()], (out) => new WatchReporter(out));
    expect(text).toMatch(/^\d\d:\d\d:\d\d initial build: ran pairs#1, legos#1 \(never built\); 2 ran, 0 fresh, 1 failed, 1 skipped in 1\.2 s\n {2}pairs#2 FAILED:\n {4}the agent exited with code 1: fake agent: refusing S0030\n$/);
  });
});

describe('cf build --json prints (JsonReporter): one event a line, as emitted, with a time', () => {
  it('every event in order, then the summary', async () => {
    bench = await Bench.create({ seeds: 40 });
    const b = await bench.build();
    const lines = printed([b], (out) => new JsonReporter(out))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.event)).toEqual([...b.events.map((e) => e.event), 'summary']);
    expect(lines.every((l) => typeof l.ts === 'string' && !Number.isNaN(Date.parse(l.ts as string)))).toBe(true);
    expect(lines.at(-1)).toMatchObject({ event: 'summary', ok: true, exitCode: 0, ran: expect.arrayContaining(['pairs#1', 'legos#2']), failed: [] });
    expect(lines.find((l) => l.event === 'ran')).toMatchObject({ target: expect.any(String), phase: expect.any(String), items: 20, attempts: 1 });
  });
});
