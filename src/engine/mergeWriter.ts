import type { PhaseConfig } from '../config/pipeline.js';
import type { BuildEvent, BuildSummary, MergeReason } from '../events/types.js';
import { asWritten, sameStamp, type OutputStore } from '../store/outputs.js';
import type { BatchRecord, FileStamp } from '../store/records.js';
import { mark } from '../util/timing.js';
import type { Decider } from './decide.js';
import { InputChanged } from './inputChanged.js';
import { MergeRestart, type InputReader } from './inputReader.js';
import { mergeBatches, mergeJsonArray, mergeKey, packSpans, unpackSpans, type Spans } from './merge.js';
import { batchTarget } from './targets.js';

/** A batch's result as a merge sees it: built (or fresh) with its record, or not. */
export type MergeInput = { kind: 'ok'; record: BatchRecord } | { kind: 'failed' | 'skipped' | 'stopped' | 'cancelled' };

export interface MergeHost {
  decider: Decider;
  outputs: OutputStore;
  inputs: InputReader;
  /** Every batch of the phase, as this build ends up with it. */
  batches(phase: PhaseConfig): Promise<MergeInput[]>;
  emit(e: BuildEvent): void;
  summary: BuildSummary;
  signal: AbortSignal;
  now(): string;
}

/**
 * Writes a phase's merged output once every batch of it is built: nothing when the file on disk is already
 * what those batches merge to; a copy of a file cf did not write (edited by hand, or there before cf) kept
 * first. JSON-array merges copy runs of unchanged batches from the previous file as whole byte ranges.
 */
export async function writeMerge(h: MergeHost, phase: PhaseConfig, restarted = false): Promise<void> {
  const d = h.decider;
  const results = await h.batches(phase);
  const output = phase.output;
  const notOk = results.map((r, i) => ({ r, t: batchTarget(phase.name, i + 1) })).filter((x) => x.r.kind !== 'ok');
  if (notOk.length) {
    if (notOk.every((x) => x.r.kind === 'cancelled' || x.r.kind === 'stopped')) return;
    h.emit({ event: 'merge-skipped', phase: phase.name, output, why: { kind: 'batches-not-built', targets: notOk.map((x) => x.t) } });
    return;
  }
  const records = results.map((r) => (r as { kind: 'ok'; record: BatchRecord }).record);
  const key = mergeKey(phase, d.graph.pipeline.course, records);
  const rec = d.store.merge(phase.name);
  const { stamp, ours, untouched } = await asWritten(h.outputs, output, rec?.file);
  let why: MergeReason = { kind: 'batches-changed' };
  if (!stamp) why = rec ? { kind: 'missing' } : { kind: 'first' };
  else if (ours && rec!.key === key) {
    // Touched or rewritten identically: nothing to do but remember the new stamp.
    if (!untouched) d.store.recordMerge({ ...rec!, file: { hash: rec!.file.hash, ...stamp }, at: h.now() });
    h.emit({ event: 'merge-fresh', phase: phase.name, output });
    return;
  } else if (!ours) {
    // Edited by hand (edits that validated were taken as batch outputs before the build), or a file cf
    // never wrote: never replaced without a copy.
    const kept = await h.outputs.preserve(output);
    why = rec ? { kind: 'edited', kept } : { kind: 'not-ours', kept };
  }
  if (h.signal.aborted) return;
  let merged: { items: number; spans?: Spans };
  let file: FileStamp;
  try {
    if (phase.merge.format === 'json') {
      // Reuse the previous file's unchanged batches, when it is the file cf wrote; write as it is made.
      const previous = rec?.byteSpans && stamp && sameStamp(stamp, rec.file) ? await h.outputs.openBytes(output) : null;
      try {
        const m = mergeJsonArray(
          records.map((r) => r.out),
          (i) => h.inputs.blobItems(records[i]!, { keep: false, onRepair: 'restart' }),
          previous && rec?.byteSpans ? { bytes: previous, spans: unpackSpans(rec.byteSpans) } : null,
        );
        file = await h.outputs.writeStream(output, m.chunks);
        merged = m.done();
      } finally {
        await previous?.close();
      }
    } else {
      const batches = await Promise.all(records.map((r) => h.inputs.blobItems(r, { keep: false, onRepair: 'restart' })));
      const generated = records.reduce((latest, r) => (r.at > latest ? r.at : latest), '');
      const m = mergeBatches(phase.merge, d.graph.pipeline.course, batches, generated);
      file = await h.outputs.write(output, m.text);
      merged = { items: m.items };
    }
  } catch (e) {
    // A batch's stored output was missing or damaged and the batch was built again: merge its new output.
    if (e instanceof MergeRestart && !restarted) return writeMerge(h, phase, true);
    if (!(e instanceof InputChanged) && !(e instanceof MergeRestart)) throw e;
    // Not written: the build is not done (exit 1), as for a batch whose input changed while cf ran.
    h.summary.cancelled.push(output);
    h.emit({ event: 'merge-skipped', phase: phase.name, output, why: { kind: 'input-changed', message: e.message || 'a batch it holds was built again twice' } });
    return;
  }
  mark(`merged ${output}`);
  d.store.recordMerge({ t: 'merge', phase: phase.name, path: output, key, file, items: merged.items, at: h.now(), ...(merged.spans ? { byteSpans: packSpans(merged.spans) } : {}) });
  h.summary.merged.push(output);
  h.emit({ event: 'merged', phase: phase.name, output, items: merged.items, batches: records.length, why });
}
