import { describe, expect, it } from 'vitest';
import { mergeJsonArray, packSpans, unpackSpans, type Spans } from '../src/engine/merge.js';

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

  it('copies runs of unchanged batches as one range, and stays byte-exact across random edits', async () => {
    let seq = 0;
    const fresh = (): { out: string; items: Array<{ id: string; v: number }> } => {
      const n = seq % 7 === 0 ? 0 : 1 + (seq % 3);
      const k = seq++;
      return { out: `o${k}`, items: Array.from({ length: n }, (_, i) => ({ id: `S${k}-${i}`, v: k })) };
    };
    let batches = Array.from({ length: 200 }, fresh);
    let prev = await run(batches.map((b) => b.out), async (i) => batches[i]!.items, null);
    let random = 12345;
    const next = (m: number): number => (random = (random * 1103515245 + 12345) % 2 ** 31) % m;
    for (let round = 0; round < 40; round++) {
      const b = [...batches];
      const kind = next(4);
      const at = next(b.length);
      if (kind === 0) b[at] = fresh();
      else if (kind === 1) b.splice(at, 1);
      else if (kind === 2) b.splice(at, 0, fresh());
      else {
        const other = next(b.length);
        [b[at], b[other]] = [b[other]!, b[at]!];
      }
      batches = b;
      const m = mergeJsonArray(batches.map((x) => x.out), async (i) => batches[i]!.items, { bytes: ranges(prev.bytes), spans: prev.spans });
      const parts: Uint8Array[] = [];
      for await (const c of m.chunks) parts.push(c);
      const bytes = Buffer.concat(parts);
      expect(bytes.toString('utf8')).toBe(`${JSON.stringify(batches.flatMap((x) => x.items), null, 2)}\n`);
      if (kind === 0) expect(parts.length).toBeLessThanOrEqual(7);
      prev = { bytes, ...m.done() };
    }
  });

  it('keeps spans packed in one string in the record, and still reads the arrays an earlier cf wrote', () => {
    const spans: Spans = [['0123456789abcdef', 2, 100, 20], ['fedcba9876543210', 102, 102, 0]];
    expect(packSpans(spans)).toBe('0123456789abcdef,2,100,20;fedcba9876543210,102,102,0');
    expect(unpackSpans(packSpans(spans))).toEqual(spans);
    expect(unpackSpans(spans)).toEqual(spans);
    expect(unpackSpans('')).toEqual([]);
    expect(unpackSpans('x,1,oops,2')).toEqual([]); // damaged: nothing reused, the merge is made from the batches
  });
});
