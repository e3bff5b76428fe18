import { describe, expect, it } from 'vitest';
import { echoAgent, World, type MemPhase } from './helpers/memory.js';

// An input changed between deciding a batch and reading it for its run: the batch is cancelled with the
// reason, not failed, and nothing is recorded for it (items: batch, and items: independent, whose stale
// items are packed into runs).
describe.each<[string, MemPhase[]]>([
  ['items: batch', [{ name: 'pairs' }, { name: 'legos' }]],
  ['items: independent', [{ name: 'pairs' }, { name: 'legos', items: 'independent' }]],
])('engine (in memory): intelligence edited mid-build, %s', (_kind, phases) => {
  it('cancels the batches that would read it, records nothing for them; the next build runs them', async () => {
    const w = await World.create(phases, 40);
    w.agent = (req) => {
      if (req.phase === 'pairs') w.intelligence.set('prompts/legos.md', '# legos, edited while pairs ran\n');
      return echoAgent(req);
    };
    const r = await w.build();
    expect(r.agentRuns).toEqual(['pairs#1', 'pairs#2']);
    expect(r.failed).toEqual([]);
    expect(r.cancelled.sort()).toEqual(['legos#1', 'legos#2']);
    expect(w.events.filter((e) => e.event === 'cancelled')).toEqual([
      expect.objectContaining({ because: 'prompts/legos.md changed while cf was running' }),
      expect.objectContaining({ because: 'prompts/legos.md changed while cf was running' }),
    ]);
    expect(w.state.failure('legos#1' as never)).toBeUndefined();
    expect(w.state.lastSuccess('legos#1' as never)).toBeUndefined();
    expect(r.merged).toEqual(['out/pairs.json']);
    const next = await w.build();
    expect(next.agentRuns).toEqual(['legos#1', 'legos#2']);
    expect(next.failed).toEqual([]);
  });
});
