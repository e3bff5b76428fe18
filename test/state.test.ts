import { describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { State } from '../src/store/state.js';
import type { RecordSink } from '../src/store/fileSink.js';
import { forEachLineOfFile } from '../src/store/lines.js';
import { withTempDir } from './helpers/tempDir.js';

describe('cf clean PHASE#k forgets the batch\'s items (State)', () => {
  it('a forget naming items drops their cached outputs, also those in the history read later', () => {
    const item = (id: string, key: string): string => `${JSON.stringify({ t: 'item', phase: 'p', id, key, hash: `h${key}`, out: 'o', input: 'i', at: 't' })}\n`;
    const sink: RecordSink = {
      append: () => undefined,
      size: null,
      rewrite: async () => undefined,
      moveToHistory: async () => undefined,
      historySize: 1,
      eachHistoryRecord: (fn) => fn(JSON.parse(item('S0001', 'old1'))),
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

describe('reading a history file a piece at a time', () => {
  it('gives every line whole, across pieces and multi-byte characters, without the last newline too', async () => {
    await withTempDir('lines', async (dir) => {
      const lines = ['{"a":1}', '¿qué tal? 日本語 🙂', 'x'.repeat(50), '', 'last without newline'];
      const file = path.join(dir, 'h.log');
      await writeFile(file, lines.join('\n'));
      for (const chunk of [1, 2, 3, 7, 64, 1 << 20]) {
        const got: string[] = [];
        forEachLineOfFile(file, (l) => got.push(l), chunk);
        expect(got).toEqual(lines.filter(Boolean));
      }
      const none: string[] = [];
      forEachLineOfFile(path.join(dir, 'missing'), (l) => none.push(l));
      expect(none).toEqual([]);
    });
  });
});
