import { describe, expect, it } from 'vitest';
import { EventBus } from '../src/events/bus.js';
import type { StampedEvent } from '../src/events/types.js';
import { eventText } from '../src/cli/format/events.js';
import { World } from './helpers/memory.js';

describe('the events seam: one bus, any number of subscribers', () => {
  it('two subscribers on one bus see the same events in the same order, stamped with the build, a sequence and a time', async () => {
    const w = await World.create([{ name: 'pairs' }, { name: 'legos' }], 60);
    const bus = new EventBus({ buildId: 'b1' });
    const a: StampedEvent[] = [];
    const b: StampedEvent[] = [];
    bus.subscribe((e) => a.push(e));
    const unsubscribe = bus.subscribe((e) => b.push(e));
    w.emit = bus.emitter;
    await w.build();
    expect(a.length).toBeGreaterThan(10);
    expect(b).toEqual(a);
    expect(a.map((e) => e.seq)).toEqual(a.map((_, i) => i + 1));
    expect(new Set(a.map((e) => e.buildId))).toEqual(new Set(['b1']));
    expect(a.every((e) => !Number.isNaN(Date.parse(e.ts)))).toBe(true);
    // Structured data, not wording: the reasons are typed; every attempt's usage is an event of its own.
    const started = a.find((e) => e.event === 'started');
    expect(started).toMatchObject({ why: [{ kind: 'never-built' }] });
    expect(a.filter((e) => e.event === 'attempt-done')).toHaveLength(6);
    expect(a.find((e) => e.event === 'attempt-done')).toMatchObject({ attempt: 1, usage: null });
    // A subscriber gone sees no more; the others go on.
    unsubscribe();
    const seen = b.length;
    w.editSeed('S0001', 'changed');
    await w.build();
    expect(b).toHaveLength(seen);
    expect(a.length).toBeGreaterThan(seen);
    // A second build on the same bus goes on counting.
    expect(a.at(-1)!.seq).toBe(a.length);
    // The NDJSON line's text fields are the reporters' wording of that data.
    const fresh = a.find((e) => e.event === 'fresh')!;
    expect(eventText(fresh)).toEqual({ reason: expect.stringMatching(/^fresh: inputs unchanged since /) });
  });
});
