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

/** Where each batch's items sit in a JSON-array merge: [output blob, start, end (string offsets), items]. */
export type Spans = Array<[string, number, number, number]>;

/** One batch's items as they appear inside `JSON.stringify(all, null, 2)`: each item indented by two spaces. */
function fragment(items: readonly Item[]): string {
  return items.map((it) => `  ${JSON.stringify(it, null, 2).replaceAll('\n', '\n  ')}`).join(',\n');
}

/**
 * The JSON-array merge, byte for byte `JSON.stringify(all, null, 2) + "\n"`, built from per-batch fragments:
 * a batch whose output is unchanged since the previous merge is copied from that file, so a one-seed
 * edit reads one batch output, not every batch's.
 */
export async function mergeJsonArray(
  outs: readonly string[],
  itemsOf: (i: number) => Promise<Item[]>,
  previous: { text: string; spans: Spans } | null,
): Promise<{ text: string; items: number; spans: Spans }> {
  const reuse = new Map<string, [string, number]>();
  if (previous) for (const [out, a, b, n] of previous.spans) reuse.set(out, [previous.text.slice(a, b), n]);
  const parts: string[] = [];
  let items = 0;
  const counts: number[] = [];
  for (let i = 0; i < outs.length; i++) {
    const known = reuse.get(outs[i]!);
    let frag: string;
    let n: number;
    if (known) [frag, n] = known;
    else {
      const batch = await itemsOf(i);
      frag = fragment(batch);
      n = batch.length;
    }
    parts.push(frag);
    counts.push(n);
    items += n;
  }
  const spans: Spans = [];
  let text = '[\n';
  let first = true;
  for (let i = 0; i < parts.length; i++) {
    if (!parts[i]) {
      spans.push([outs[i]!, text.length, text.length, 0]);
      continue;
    }
    if (!first) text += ',\n';
    first = false;
    spans.push([outs[i]!, text.length, text.length + parts[i]!.length, counts[i]!]);
    text += parts[i];
  }
  text = items ? `${text}\n]\n` : '[]\n';
  return { text, items, spans };
}

