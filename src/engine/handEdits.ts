import type { AttemptError } from '../exec/attempts.js';
import type { BatchExecutor } from '../exec/executor.js';
import { registry } from '../config/registry.js';
import { hashCanonical } from '../util/hash.js';
import { Analysis, type BatchStatus } from './analyze.js';
import { decodeRefs } from './fingerprint.js';
import type { Decider } from './decide.js';
import type { OutputStore } from '../store/outputs.js';
import { asWritten } from '../store/outputs.js';
import type { PhaseConfig } from '../config/pipeline.js';
import type { Item } from '../config/seeds.js';
import type { TargetId } from './targets.js';

export interface HandEditReport {
  phase: string;
  output: string;
  /** Batches whose items were taken from the edited file. */
  taken: TargetId[];
  /** Batches whose edited items failed validation (or are incomplete): not taken. */
  rejected: Array<{ target: TargetId; errors: AttemptError[] }>;
  /** The whole file could not be read (not JSON, wrong shape). */
  unreadable?: string;
}

/**
 * A merged output edited by hand is an edit of its phase's batch outputs, as in make, where a newer
 * intermediate file feeds what depends on it: before a build, every batch whose items differ in the
 * edited file takes them (after the phase's validation), so downstream batches rerun where the edit
 * changed something. Edits that do not validate are not taken; the merge then keeps the edited file
 * aside (.cf/replaced/) and writes the batch outputs again.
 */
export async function takeHandEdits(o: {
  decider: Decider;
  outputs: OutputStore;
  phases: readonly PhaseConfig[];
  /** Runs the check of each batch's edited items (the phase's whole validator, as after an agent run). */
  executor: BatchExecutor;
  /** Where a batch's check of its edited items keeps its files, for a command validator (null in memory). */
  runDir(phase: PhaseConfig, batch: number): string | null;
  signal: AbortSignal;
  now?: () => Date;
}): Promise<HandEditReport[]> {
  const d = o.decider;
  const idField = d.graph.pipeline.idField;
  const reports: HandEditReport[] = [];
  const analysis = new Analysis(d);
  for (const phase of o.phases) {
    const rec = d.store.merge(phase.name);
    if (!rec) continue;
    // Only a file that is not the one cf wrote (nor gone) was edited.
    const { stamp, ours } = await asWritten(o.outputs, phase.output, rec.file);
    if (!stamp || ours) continue;
    const text = await o.outputs.read(phase.output);
    if (text === null) continue;
    const report: HandEditReport = { phase: phase.name, output: phase.output, taken: [], rejected: [] };
    reports.push(report);
    // Read back as its format writes it (a JSON array of items, or a registered format's document).
    const read = registry.mergeFormat(phase.merge.format).read(text);
    if (!read.ok) {
      report.unreadable = read.error;
      continue;
    }
    const items: Item[] = read.items;
    const byId = new Map(items.map((it) => [String(it[idField]), it]));
    const upstream = d.graph.upstream(phase);
    for (const batch of d.graph.batches()) {
      const status = await analysis.batch(phase, batch);
      if (status.kind !== 'fresh') continue; // it runs anyway, from its inputs
      const record = status.record;
      const refs = decodeRefs(record.items);
      const ids = refs.map(([id]) => id);
      const edited = ids.map((id) => byId.get(id));
      const changed = ids.filter((_, i) => edited[i] === undefined || hashCanonical(edited[i]) !== refs[i]![1]);
      if (!changed.length) continue;
      // Checked as an agent's answer would be: its input items as the phase sees them, the built-in checks,
      // then the phase's whole validator (rules, command, the vocabulary context), with the files it reads.
      let inputItems: Item[];
      if (upstream) {
        const up = (await analysis.batch(upstream, batch)) as Extract<BatchStatus, { kind: 'fresh' }>;
        const stored = await d.store.blobs.get(up.record.out);
        if (stored === null) {
          report.rejected.push({ target: record.target, errors: [{ attempt: 0, source: 'output', message: `the stored output of ${up.record.target} is missing or damaged; cf build builds it again` }] });
          continue;
        }
        inputItems = d.asInput(phase, JSON.parse(stored) as Item[], analysis.contexts);
      } else {
        inputItems = (await d.seeds.items()).slice(...d.graph.batchRange(batch));
      }
      const checked = await o.executor.execute(
        d.checkJob({
          phase,
          target: record.target,
          batch,
          idField,
          inputItems,
          ids,
          output: edited.filter((x) => x !== undefined),
          note: `(edited by hand in ${phase.output})`,
          runDir: o.runDir(phase, batch),
          contexts: analysis.contexts,
        }),
        { signal: o.signal },
      );
      if (checked.kind === 'cancelled') return reports;
      if (checked.kind === 'invalid') {
        report.rejected.push({ target: record.target, errors: checked.errors.map((e) => ({ attempt: 0, ...e })) });
        continue;
      }
      // items: independent: the edited items replace the cached ones under the same keys, so that a later
      // rebuild of this batch (another seed edited) reassembles it with the correction, not the old item.
      const [start] = d.graph.batchRange(batch);
      const cache =
        phase.items === 'independent'
          ? await Promise.all(refs.flatMap(([id, h], i) => (changed.includes(id) ? [d.itemKey(phase, start + i, id, h, analysis.contexts)] : [])))
          : [];
      await d.recordOutput(
        phase,
        record.target,
        record,
        checked.items,
        {
          attempts: record.attempts,
          ms: record.ms,
          at: (o.now?.() ?? new Date()).toISOString(),
          edited: phase.output,
          warnings: checked.warnings,
          ...(record.usage ? { usage: record.usage } : {}),
        },
        cache,
      );
      report.taken.push(record.target);
    }
  }
  return reports;
}
