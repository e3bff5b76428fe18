import { afterEach, describe, expect, it } from 'vitest';
import { colourEnabled, painter } from '../src/cli/colour.js';
import { formatLeft, PhaseEta } from '../src/cli/eta.js';
import { HumanReporter } from '../src/cli/reporters.js';
import type { BuildEvent } from '../src/events/types.js';
import { Bench, Sink, summaryEvent } from './helpers/workspace.js';

/*
 * What cf build prints on a terminal: colour where the stream and the environment allow it, failures and
 * warnings on stderr (the rest on stdout), and the time left of the phase running on the live line.
 */

let bench: Bench | undefined;
afterEach(async () => {
  await bench?.remove();
  bench = undefined;
});

const tty = { isTTY: true };
const pipe = { isTTY: false };

describe('colour', () => {
  it('colourEnabled: a terminal yes, a pipe no; NO_COLOR turns it off, FORCE_COLOR forces it (0 or false: off); TERM=dumb no', () => {
    expect(colourEnabled(tty, {})).toBe(true);
    expect(colourEnabled(pipe, {})).toBe(false);
    expect(colourEnabled(tty, { NO_COLOR: '1' })).toBe(false);
    expect(colourEnabled(tty, { NO_COLOR: '' })).toBe(true); // set but empty: not set (no-color.org)
    expect(colourEnabled(tty, { TERM: 'dumb' })).toBe(false);
    expect(colourEnabled(pipe, { FORCE_COLOR: '1' })).toBe(true);
    expect(colourEnabled(pipe, { FORCE_COLOR: '' })).toBe(true);
    expect(colourEnabled(pipe, { FORCE_COLOR: '3', NO_COLOR: '1' })).toBe(true);
    expect(colourEnabled(tty, { FORCE_COLOR: '0' })).toBe(false);
    expect(colourEnabled(tty, { FORCE_COLOR: 'false' })).toBe(false);
    expect(painter(true)(['red', 'bold'], 'FAILED')).toBe('\x1b[31m\x1b[1mFAILED\x1b[22m\x1b[39m');
    expect(painter(false)('red', 'FAILED')).toBe('FAILED');
  });

  it("cf build's lines: failures and warnings on stderr, the rest on stdout, each coloured only where its stream takes colour", async () => {
    bench = await Bench.create({ seeds: 40 });
    bench.knobs = { flaky: ['S0007'], fail: ['S0030'], onlyPhase: 'pairs' };
    const built = await bench.build(['pairs']);
    const out = new Sink();
    const err = new Sink();
    const r = new HumanReporter({ tty: false, quiet: false, verbose: false, colour: { out: true, err: false } }, out, err);
    for (const e of built.events) r.event(e);
    r.event(summaryEvent(built));
    r.close();
    expect(out.text).toMatch(/batch 1\/2 of pairs \x1b\[32mdone\x1b\[39m: 20 items, [^,]+, 2 attempts\n/);
    expect(out.text).toContain('\x1b[31m\x1b[1mcf: FAILED\x1b[22m\x1b[39m: 1 ran, 0 fresh, 1 failed in 1.2 s\n');
    expect(out.text).not.toContain('retrying');
    expect(out.text).not.toContain('of pairs FAILED');
    expect(err.text).toContain('batch 1/2 of pairs: attempt 1 rejected, retrying (2/3):\n    S0007: S0007 is missing from the output\n');
    expect(err.text).toContain('batch 2/2 of pairs FAILED after 3 attempts:\n    the agent exited with code 1: fake agent: refusing S0030\n');
    expect(err.text).not.toContain('\x1b[');
  });
});

describe('the live line: the time left of each phase running', () => {
  const at = (events: BuildEvent[], eta = new PhaseEta()): PhaseEta => {
    for (const e of events) eta.event(e, (e as { at?: number }).at ?? 0);
    return eta;
  };
  const started = (batch: number, at: number) => ({ event: 'started', target: `p#${batch}`, phase: 'p', batch, batchCount: 4, items: 20, why: [], at }) as BuildEvent;
  const ran = (batch: number, ms: number, at: number) => ({ event: 'ran', target: `p#${batch}`, phase: 'p', batch, batchCount: 4, items: 20, attempts: 1, ms, warnings: 0, at }) as BuildEvent;
  const planned = { event: 'planned', seeds: 80, batches: 4, jobs: 2, fresh: 0, stale: 4, pending: 0, failedBefore: 0, toRun: ['p#1', 'p#2', 'p#3', 'p#4'] } as BuildEvent;

  it('from the mean duration of its finished batches: what the running ones have left, then the rest -j at a time', () => {
    expect(at([planned, started(1, 0), started(2, 0)]).estimates(500)).toEqual(new Map()); // none finished: no estimate
    const eta = at([planned, started(1, 0), started(2, 0), ran(1, 1000, 1000), started(3, 1000)]);
    // p#2 is past the mean (0 left), p#3 has 500 ms left; p#4 waits for a slot: one more mean.
    expect(eta.estimates(1500)).toEqual(new Map([['p', 1500]]));
    at([ran(2, 2000, 2000), ran(3, 1200, 2200), started(4, 2200)], eta);
    expect(eta.estimates(2200)).toEqual(new Map([['p', 1400]]));
    expect(formatLeft(1400)).toBe('about 1 s left');
    expect(formatLeft(125_000)).toBe('about 2m05s left');
  });

  it("is on cf build's status line, before what runs", () => {
    const r = new HumanReporter({ tty: false, quiet: false, verbose: false }, new Sink(), new Sink());
    const now = Date.now();
    r.event(planned);
    for (const e of [started(1, 0), started(2, 0)]) r.event(e);
    r.event({ event: 'process', target: 'p#1', what: 'agent', state: 'start' });
    r.event({ event: 'process', target: 'p#2', what: 'agent', state: 'start' });
    r.event({ event: 'process', target: 'p#1', what: 'agent', state: 'end' });
    r.event(ran(1, 30_000, 0));
    // p#2 has 25 s left of the mean (30 s); p#3 and p#4 then run side by side (-j 2): 30 s more.
    expect(r.statusLine(now + 5000)).toMatch(/^\[1\/4\] p about 5[45] s left · running p#2 5\.0 s$/);
  });
});
