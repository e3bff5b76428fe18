import type { CourseConfig, MergeConfig } from '../graph/pipeline.js';
import type { Item } from '../graph/seeds.js';
import { writeDocument } from './ssi/formats.js';

/**
 * A phase's merged output: its batches' output items in seed order, as one JSON array or as an SSi
 * document. Always recomputed from the batch outputs, never appended to, so a rerun cannot duplicate an
 * item. `generated` is the newest batch's time, so merging the same batches twice gives the same bytes.
 */
export function mergeBatches(
  merge: MergeConfig,
  course: CourseConfig | null,
  batches: Item[][],
  generated: string,
): { text: string; items: number } {
  const all: Item[] = [];
  for (const b of batches) for (const it of b) all.push(it);
  if (merge.format === 'json') return { text: `${JSON.stringify(all, null, 2)}\n`, items: all.length };
  if (!course) throw new Error(`merge ${merge.format} needs a course`);
  const doc = writeDocument(merge.format, all, {
    course: { code: course.code, targetLanguage: course.targetLanguage, knownLanguage: course.knownLanguage, ...(course.targetName ? { targetName: course.targetName } : {}) },
    generated,
    ...(merge.version ? { version: merge.version } : {}),
  });
  return { text: `${JSON.stringify(doc, null, 2)}\n`, items: all.length };
}

/** Where each batch's items sit in a JSON-array merge: [output blob, start, end (byte offsets), items]. */
export type Spans = Array<[string, number, number, number]>;

/** One batch's items as they appear inside `JSON.stringify(all, null, 2)`: each item indented by two spaces. */
function fragment(items: readonly Item[]): string {
  return items.map((it) => `  ${JSON.stringify(it, null, 2).replaceAll('\n', '\n  ')}`).join(',\n');
}

const OPEN = Buffer.from('[\n');
const SEP = Buffer.from(',\n');
const CLOSE = Buffer.from('\n]\n');
const EMPTY = Buffer.from('[]\n');

/**
 * The JSON-array merge, byte for byte `JSON.stringify(all, null, 2) + "\n"` in UTF-8, as a stream of chunks
 * built from per-batch fragments: a batch whose output is unchanged since the previous merge is copied from
 * that file's bytes (no decoding, no re-encoding), so a one-seed edit at 20,000 seeds reads one batch output,
 * not 1,000; and the file is written as it is made, never held whole in memory. `done()` gives the item
 * count and the batches' byte spans once the chunks have been consumed.
 */
export function mergeJsonArray(
  outs: readonly string[],
  itemsOf: (i: number) => Promise<Item[]>,
  previous: { bytes: ByteRanges; spans: Spans } | null,
): { chunks: AsyncIterable<Uint8Array>; done(): { items: number; spans: Spans } } {
  const spans: Spans = [];
  let items = 0;
  let finished = false;
  async function* chunks(): AsyncGenerator<Uint8Array> {
    const reuse = new Map<string, [number, number, number]>();
    if (previous) {
      const size = previous.bytes.size;
      for (const [out, a, b, n] of previous.spans) if (a <= b && b <= size) reuse.set(out, [a, b, n]);
    }
    let offset = 0;
    let opened = false;
    for (let i = 0; i < outs.length; i++) {
      const known = reuse.get(outs[i]!);
      let frag: Uint8Array;
      let n: number;
      if (known) {
        frag = await previous!.bytes.read(known[0], known[1]);
        n = known[2];
      } else {
        const batch = await itemsOf(i);
        frag = Buffer.from(fragment(batch));
        n = batch.length;
      }
      if (!frag.length) {
        spans.push([outs[i]!, offset, offset, 0]);
        continue;
      }
      if (!opened) {
        yield OPEN;
        offset += OPEN.length;
        opened = true;
      } else {
        yield SEP;
        offset += SEP.length;
      }
      spans.push([outs[i]!, offset, offset + frag.length, n]);
      yield frag;
      offset += frag.length;
      items += n;
    }
    yield opened ? CLOSE : EMPTY;
    finished = true;
  }
  return {
    chunks: chunks(),
    done: () => {
      if (!finished) throw new Error('mergeJsonArray: done() before the chunks were consumed');
      return { items, spans };
    },
  };
}

/** Byte ranges of the previous merged file, read on demand. */
export interface ByteRanges {
  size: number;
  read(start: number, end: number): Promise<Uint8Array>;
}
