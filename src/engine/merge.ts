import type { CourseConfig, MergeConfig, PhaseConfig } from '../config/pipeline.js';
import { registry } from '../config/registry.js';
import type { Item } from '../config/seeds.js';
import { hashCanonical, type Hash } from '../util/hash.js';

/**
 * The merged file's key: which batch outputs it holds, in order, and what else its format writes into it
 * (the course, for a format written for one; the batch times, for a format that carries the newest).
 */
export function mergeKey(phase: PhaseConfig, course: CourseConfig | null, records: ReadonlyArray<{ target: string; out: string; at: string }>): Hash {
  const format = registry.mergeFormat(phase.merge.format);
  return hashCanonical({
    phase: phase.name,
    output: phase.output,
    merge: phase.merge,
    course: format.needsCourse ? course : null,
    batches: records.map((r) => (format.timed ? [r.target, r.out, r.at] : [r.target, r.out])),
  });
}

/**
 * A phase's merged output: its batches' output items in seed order, as one JSON array or in its format
 * (a registered one: plugins.ts). Always recomputed from the batch outputs, never appended to, so a rerun
 * cannot duplicate an item. `generated` is the newest batch's time, so merging the same batches twice
 * gives the same bytes.
 */
export function mergeBatches(
  merge: MergeConfig,
  course: CourseConfig | null,
  batches: Item[][],
  generated: string,
): { text: string; items: number } {
  const all: Item[] = [];
  for (const b of batches) for (const it of b) all.push(it);
  return { text: registry.mergeFormat(merge.format).write(all, { course, generated, version: merge.version }), items: all.length };
}

/** Where each batch's items sit in a JSON-array merge: [output blob, start, end (byte offsets), items]. */
export type Spans = Array<[string, number, number, number]>;

/**
 * Spans as kept in a merge record: one string ("out,start,end,items;…"). A 1,000-batch phase's spans as JSON
 * arrays are 4,000 values to parse and collect on every start, for every merge record in the log.
 */
export function packSpans(spans: Spans): string {
  return spans.map((s) => s.join(',')).join(';');
}

/** Spans from a merge record (packed, or as arrays in records an earlier cf wrote); [] when unreadable. */
export function unpackSpans(packed: Spans | string): Spans {
  if (typeof packed !== 'string') return packed;
  const out: Spans = [];
  if (!packed) return out;
  for (const part of packed.split(';')) {
    const [o, a, b, n] = part.split(',');
    const nums = [Number(a), Number(b), Number(n)];
    if (!o || nums.some((x) => !Number.isSafeInteger(x) || x < 0)) return [];
    out.push([o, nums[0]!, nums[1]!, nums[2]!]);
  }
  return out;
}

/** One batch's items as they appear inside `JSON.stringify(all, null, 2)`: each item indented by two spaces. */
function fragment(items: readonly Item[]): string {
  return items.map((it) => `  ${JSON.stringify(it, null, 2).replaceAll('\n', '\n  ')}`).join(',\n');
}

const OPEN = Buffer.from('[\n');
const SEP = Buffer.from(',\n');
const CLOSE = Buffer.from('\n]\n');
const EMPTY = Buffer.from('[]\n');

/** How much of a run of unchanged batches is copied from the previous file at a time. */
const RUN_PIECE = 4 << 20;

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
    // Unchanged batches that follow each other in the previous file (with the separators between them) are
    // copied as one range: a one-seed edit writes three pieces, not a few thousand.
    let run: [number, number] | null = null;
    // A run is read a few MB at a time: half of a 100,000-seed output is tens of MB.
    async function* take(): AsyncGenerator<Uint8Array> {
      if (!run) return;
      const [a, b] = run;
      run = null;
      for (let at = a; at < b; at += RUN_PIECE) yield await previous!.bytes.read(at, Math.min(b, at + RUN_PIECE));
    }
    for (let i = 0; i < outs.length; i++) {
      const known = reuse.get(outs[i]!);
      if (known && known[0] === known[1]) {
        spans.push([outs[i]!, offset, offset, 0]);
        continue;
      }
      if (known && run && opened && known[0] === run[1] + SEP.length) {
        run[1] = known[1];
        offset += SEP.length;
        spans.push([outs[i]!, offset, offset + known[1] - known[0], known[2]]);
        offset += known[1] - known[0];
        items += known[2];
        continue;
      }
      yield* take();
      let frag: Uint8Array | null = null;
      let length: number;
      let n: number;
      if (known) {
        run = [known[0], known[1]];
        length = known[1] - known[0];
        n = known[2];
      } else {
        const batch = await itemsOf(i);
        frag = Buffer.from(fragment(batch));
        length = frag.length;
        n = batch.length;
      }
      if (!length) {
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
      spans.push([outs[i]!, offset, offset + length, n]);
      if (frag) yield frag;
      offset += length;
      items += n;
    }
    yield* take();
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
