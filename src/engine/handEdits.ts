import type { AttemptError } from '../exec/attempts.js';
import type { BatchExecutor } from '../exec/executor.js';
import { registry } from '../config/registry.js';
import { hashCanonical } from '../util/hash.js';
import { Analysis } from './analyze.js';
import { withCorrection } from './corrections.js';
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
  /** Batches whose edited items were taken (as corrections of their items). */
  taken: TargetId[];
  /** Batches whose edited items failed validation (or are incomplete): not taken. */
  rejected: Array<{ target: TargetId; errors: AttemptError[] }>;
  /** The whole file could not be read (not JSON, wrong shape). */
  unreadable?: string;
}

/**
 * A merged output edited by hand is a review of its phase's items: before a build, every item that differs
 * in the edited file from what the phase shows (its generated output with the corrections made so far)
 * becomes a correction of that item (corrections/PHASE.jsonl), once its batch, so edited, passes the phase's
 * whole validation. So the edit feeds downstream (the batches that read a corrected item rerun), and it
 * survives regeneration: the generated output is not changed, the correction is applied on top of whatever
 * the agent makes next. An item edited back to what was generated drops its corrections. Edits that do not
 * validate are not taken; the merge then keeps the edited file aside (.cf/replaced/) and writes it again.
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
  /** Who the corrections are from (default: "hand edit"). */
  author?: string;
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
    const byId = new Map(read.items.map((it) => [String(it[idField]), it]));
    for (const batch of d.graph.batches()) {
      const status = await analysis.batch(phase, batch);
      if (status.kind !== 'fresh') continue; // it runs anyway, from its inputs
      const shown = decodeRefs((await analysis.view(phase, status)).items);
      const generated = new Map(decodeRefs(status.record.items));
      const ids = shown.map(([id]) => id);
      const edited = ids.map((id) => byId.get(id));
      const changed = ids.filter((_, i) => edited[i] === undefined || hashCanonical(edited[i]) !== shown[i]![1]);
      if (!changed.length) continue;
      // Checked as an agent's answer would be: its input items as the phase sees them, the built-in checks,
      // then the phase's whole validator (rules, command, the vocabulary context), with the files it reads.
      const inputItems = await analysis.inputItems(phase, batch);
      if (!Array.isArray(inputItems)) {
        const message = 'missing' in inputItems ? inputItems.missing : `${inputItems.waiting} is not built`;
        report.rejected.push({ target: status.target, errors: [{ attempt: 0, source: 'output', message }] });
        continue;
      }
      const checked = await o.executor.execute(
        d.checkJob({
          phase,
          target: status.target,
          batch,
          idField,
          inputItems,
          ids,
          output: edited.filter((x): x is Item => x !== undefined),
          note: `(edited by hand in ${phase.output})`,
          runDir: o.runDir(phase, batch),
          contexts: analysis.contexts,
        }),
        { signal: o.signal },
      );
      if (checked.kind === 'cancelled') return reports;
      if (checked.kind === 'invalid') {
        report.rejected.push({ target: status.target, errors: checked.errors.map((e) => ({ attempt: 0, ...e })) });
        continue;
      }
      const at = (o.now?.() ?? new Date()).toISOString();
      const valid = new Map(checked.items.map((it) => [String(it[idField]), it]));
      await d.corrections.update(phase.name, (now) => {
        let list = now;
        for (const id of changed) {
          const item = valid.get(id)!;
          const base = generated.get(id)!;
          // Edited back to what the agent made: its corrections go.
          if (hashCanonical(item) === base) list = list.filter((c) => c.id !== id);
          else list = withCorrection(list, { id, set: item, base, author: o.author ?? 'hand edit', at });
        }
        return list;
      });
      report.taken.push(status.target);
    }
  }
  return reports;
}
