import { describe, expect, it } from 'vitest';
import { mergeJsonArray } from '../src/rules/merge.js';

describe('the JSON-array merge', () => {
  it('is JSON.stringify(all, null, 2) in UTF-8 byte for byte, and reuses unchanged batches of the previous file (non-ASCII text too)', async () => {
    const batch = (k: number, n: number) => Array.from({ length: n }, (_, i) => ({ id: `S${k}-${i}`, nested: { list: [1, { deep: 'x\ny' }], k }, text: `batch ${k} "${i}" ¿qué? 日本語 🙂` }));
    const batches = [batch(1, 3), batch(2, 0), batch(3, 2), batch(4, 1)];
    const all = batches.flat();
    const first = await mergeJsonArray(['a', 'b', 'c', 'd'], async (i) => batches[i]!, null);
    expect(Buffer.concat(first.parts).toString('utf8')).toBe(`${JSON.stringify(all, null, 2)}\n`);
    expect(first.items).toBe(6);

    const asked: number[] = [];
    const changed = [...batches];
    changed[2] = batch(33, 4);
    const second = await mergeJsonArray(['a', 'b', 'c2', 'd'], async (i) => (asked.push(i), changed[i]!), { bytes: Buffer.concat(first.parts), spans: first.spans });
    expect(asked).toEqual([2]);
    expect(Buffer.concat(second.parts).toString('utf8')).toBe(`${JSON.stringify(changed.flat(), null, 2)}\n`);
    expect(Buffer.concat((await mergeJsonArray(['e'], async () => [], null)).parts).toString('utf8')).toBe('[]\n');
  });
});
