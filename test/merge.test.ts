import { describe, expect, it } from 'vitest';
import { mergeJsonArray, type Spans } from '../src/rules/merge.js';

/** The merge's chunks joined, and its items and spans. */
async function run(...args: Parameters<typeof mergeJsonArray>): Promise<{ bytes: Buffer; items: number; spans: Spans }> {
  const m = mergeJsonArray(...args);
  const parts: Uint8Array[] = [];
  for await (const c of m.chunks) parts.push(c);
  return { bytes: Buffer.concat(parts), ...m.done() };
}
const ranges = (bytes: Buffer) => ({ size: bytes.length, read: async (a: number, b: number) => bytes.subarray(a, b) });

describe('the JSON-array merge', () => {
  it('is JSON.stringify(all, null, 2) in UTF-8 byte for byte, and reuses unchanged batches of the previous file (non-ASCII text too)', async () => {
    const batch = (k: number, n: number) => Array.from({ length: n }, (_, i) => ({ id: `S${k}-${i}`, nested: { list: [1, { deep: 'x\ny' }], k }, text: `batch ${k} "${i}" ¿qué? 日本語 🙂` }));
    const batches = [batch(1, 3), batch(2, 0), batch(3, 2), batch(4, 1)];
    const all = batches.flat();
    const first = await run(['a', 'b', 'c', 'd'], async (i) => batches[i]!, null);
    expect(first.bytes.toString('utf8')).toBe(`${JSON.stringify(all, null, 2)}\n`);
    expect(first.items).toBe(6);

    const asked: number[] = [];
    const changed = [...batches];
    changed[2] = batch(33, 4);
    const second = await run(['a', 'b', 'c2', 'd'], async (i) => (asked.push(i), changed[i]!), { bytes: ranges(first.bytes), spans: first.spans });
    expect(asked).toEqual([2]);
    expect(second.bytes.toString('utf8')).toBe(`${JSON.stringify(changed.flat(), null, 2)}\n`);
    expect((await run(['e'], async () => [], null)).bytes.toString('utf8')).toBe('[]\n');
    // The first batch empty: the spans still splice right on the next merge.
    const third = await run(['b', 'a', 'c2'], async (i) => [batches[1]!, batches[0]!, changed[2]!][i]!, { bytes: ranges(second.bytes), spans: second.spans });
    expect(third.bytes.toString('utf8')).toBe(`${JSON.stringify([...batches[0]!, ...changed[2]!], null, 2)}\n`);
  });
});
