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
