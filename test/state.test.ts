import { describe, expect, it } from 'vitest';
import { State, type RecordSink } from '../src/graph/state.js';

describe('cf clean PHASE#k forgets the batch\'s items (State)', () => {
  it('a forget naming items drops their cached outputs, also those in the history read later', () => {
    const item = (id: string, key: string): string => `${JSON.stringify({ t: 'item', phase: 'p', id, key, hash: `h${key}`, out: 'o', input: 'i', at: 't' })}\n`;
    const sink: RecordSink = {
      append: () => undefined,
      size: null,
      rewrite: async () => undefined,
      moveToHistory: async () => undefined,
      historySize: 0,
      readHistory: () => item('S0001', 'old1'),
      readHistoryKeys: () => 'old1',
      close: () => undefined,
    };
    const s = new State(sink);
    s.load(item('S0001', 'new1') + item('S0002', 'new2') + item('S0021', 'new21'));
    s.append({ t: 'forget', target: 'p#1' as never, at: 't', items: ['S0001', 'S0002'] });
    expect(s.itemWithKey('new1' as never)).toBeUndefined();
    expect(s.itemWithKey('new2' as never)).toBeUndefined();
    expect(s.itemWithKey('old1' as never)).toBeUndefined(); // read from the history after the forget
    expect(s.itemWithKey('new21' as never)).toBeDefined();
  });
});
