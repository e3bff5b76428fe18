import { checkOutput, type AttemptError } from '../rules/attempts.js';
import { readDocument } from '../rules/ssi/formats.js';
import type { Validator } from '../rules/validate.js';
import { hashCanonical, hashBytes } from '../util/hash.js';
import { Analysis, type BatchStatus } from './analyze.js';
import { contextExtras } from './context.js';
import { decodeRefs, encodeRefs } from './fingerprint.js';
import type { Decider } from './decide.js';
import type { OutputStore } from './outputs.js';
import { sameStamp } from './outputs.js';
import type { PhaseConfig } from './pipeline.js';
import type { BatchRecord } from './records.js';
import type { Item } from './seeds.js';
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
  validatorFor(phase: PhaseConfig): Validator | null;
  signal: AbortSignal;
  now?: () => Date;
}): Promise<HandEditReport[]> {
  const d = o.decider;
  const idField = d.graph.pipeline.idField;
  const reports: HandEditReport[] = [];
  const analysis = new Analysis(d);
  for (const phase of o.phases) {
    const rec = d.state.merge(phase.name);
    if (!rec) continue;
    const stamp = await o.outputs.stamp(phase.output);
    if (!stamp || sameStamp(stamp, rec.file)) continue;
    const bytes = await o.outputs.readBytes(phase.output);
    if (bytes === null || hashBytes(bytes) === rec.file.hash) continue;
    const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
    const report: HandEditReport = { phase: phase.name, output: phase.output, taken: [], rejected: [] };
    reports.push(report);
    let items: Item[];
    try {
      const doc: unknown = JSON.parse(text);
      if (phase.merge.format === 'json') {
        if (!Array.isArray(doc)) throw new Error('expected a JSON array of items');
        items = doc as Item[];
      } else {
        const r = readDocument(phase.merge.format, doc);
        if (!r.ok) throw new Error(r.error);
        items = r.items as Item[];
      }
    } catch (e) {
      report.unreadable = (e as Error).message;
      continue;
    }
    const byId = new Map(items.map((it) => [String(it[idField]), it]));
    for (const batch of d.graph.batches()) {
      const status = analysis.batch(phase, batch);
      if (status.kind !== 'fresh') continue; // it runs anyway, from its inputs
      const record = status.record;
      const refs = decodeRefs(record.items);
      const ids = refs.map(([id]) => id);
      const edited = ids.map((id) => byId.get(id));
      const changed = edited.some((it, i) => it === undefined || hashCanonical(it) !== refs[i]![1]);
      if (!changed) continue;
      const upstream = d.graph.upstream(phase);
      const inputItems = upstream ? await recordedItems(d, analysis.batch(upstream, batch)) : (await d.seeds.items()).slice(...d.graph.batchRange(batch));
      const checked = await checkOutput({
        text: JSON.stringify(edited.filter((x) => x !== undefined)),
        inputItems,
        inputIds: ids,
        idField,
        validator: o.validatorFor(phase),
        env: { CF_PHASE: phase.name, CF_BATCH: String(batch), CF_BATCH_COUNT: String(d.graph.batchCount), CF_ATTEMPT: '0', CF_TARGET: record.target },
        files: null,
        signal: o.signal,
      });
      if (checked.kind === 'cancelled') return reports;
      if (checked.kind === 'invalid') {
        report.rejected.push({ target: record.target, errors: checked.errors.map((e) => ({ attempt: 0, ...e })) });
        continue;
      }
      const out = await d.objects.put(JSON.stringify(checked.items));
      const taken: BatchRecord = {
        ...record,
        out,
        items: encodeRefs(checked.items.map((it) => [String(it[idField]), hashCanonical(it)])),
        at: (o.now?.() ?? new Date()).toISOString(),
        edited: phase.output,
        ...contextExtras(d.graph.phases, phase.name, checked.items, idField),
      };
      d.state.append(taken);
      report.taken.push(record.target);
    }
  }
  return reports;
}

/** The recorded output items of a fresh batch (a fresh batch's upstream is fresh too). */
async function recordedItems(d: Decider, status: BatchStatus): Promise<Item[]> {
  const text = status.kind === 'fresh' ? await d.objects.get(status.record.out) : null;
  return text ? (JSON.parse(text) as Item[]) : [];
}
