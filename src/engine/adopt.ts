import { count } from '../util/plural.js';
import type { AttemptError } from '../exec/attempts.js';
import type { BatchExecutor } from '../exec/executor.js';
import { Analysis, type BatchStatus } from './analyze.js';
import type { Decider } from './decide.js';
import { decodeRefs } from './fingerprint.js';
import type { PhaseConfig } from '../config/pipeline.js';
import type { Item } from '../config/seeds.js';
import { batchTarget, type TargetId } from './targets.js';

export interface AdoptReport {
  adopted: TargetId[];
  alreadyFresh: TargetId[];
  rejected: Array<{ target: TargetId; reason: string; errors: AttemptError[] }>;
  /** Items of the file that belong to no current seed (ignored). */
  unknownIds: string[];
}

/**
 * Takes an existing merged output as a phase's batch outputs: each batch whose items are all present and
 * pass the phase's validation is recorded as built for the current inputs, intelligence and runner, so
 * moving a course into cf does not pay to regenerate it. Nothing is adopted silently: a batch with a
 * missing or invalid item is rejected with the reasons, and will be built by the next `cf build`.
 */
export async function adoptPhase(o: {
  decider: Decider;
  phase: PhaseConfig;
  items: Item[];
  source: string;
  /** Runs the check of each batch's items (the phase's whole validator, as after an agent run). */
  executor: BatchExecutor;
  /** Where the batch's files go for command validators (null in memory). */
  runDir(batch: number): string | null;
  signal: AbortSignal;
  now?: () => Date;
}): Promise<AdoptReport> {
  const d = o.decider;
  const idField = d.graph.pipeline.idField;
  const byId = new Map(o.items.map((it) => [String(it[idField]), it]));
  const known = new Set(d.seeds.ids);
  const report: AdoptReport = { adopted: [], alreadyFresh: [], rejected: [], unknownIds: [...byId.keys()].filter((id) => !known.has(id)) };
  const analysis = new Analysis(d);
  const up = d.graph.upstream(o.phase);
  for (const batch of d.graph.batches()) {
    const target = batchTarget(o.phase.name, batch);
    const reject = (reason: string, errors: AttemptError[] = []): void => {
      report.rejected.push({ target, reason, errors });
    };
    // What the batch reads, decided as a build decides it (the same inputs, context and key).
    const inputs = await analysis.inputs(o.phase, batch);
    if ('waiting' in inputs) {
      const of = inputs.waiting.split('#')[0]!;
      reject(`${of === up?.name ? 'upstream' : 'context'} ${inputs.waiting} is not built; build or adopt ${of} first`);
      continue;
    }
    const decision = await d.decide(o.phase, batch, inputs.items, inputs.context);
    if (decision.kind === 'fresh') {
      report.alreadyFresh.push(target);
      continue;
    }
    let inputItems: Item[];
    if (up) {
      const u = (await analysis.batch(up, batch)) as Extract<BatchStatus, { kind: 'fresh' }>;
      const text = await d.store.blobs.get(u.record.out);
      if (text === null) {
        reject(`the stored output of ${u.record.target} is missing; cf build builds it again`);
        continue;
      }
      inputItems = d.asInput(o.phase, JSON.parse(text) as Item[], analysis.contexts);
    } else {
      inputItems = (await d.seeds.items()).slice(...d.graph.batchRange(batch));
    }
    const refs = decodeRefs(inputs.items);
    const ids = refs.map(([id]) => id);
    const missing = ids.filter((id) => !byId.has(id));
    if (missing.length) {
      reject(`${missing.length} of ${count(ids.length, 'item')} ${missing.length === 1 ? 'is' : 'are'} not in ${o.source}`, missing.map((id) => ({ attempt: 0, source: 'output', item: id, message: `${id} is not in ${o.source}` })));
      continue;
    }
    const checked = await o.executor.execute(
      d.checkJob({ phase: o.phase, target, batch, idField, inputItems, ids, output: ids.map((id) => byId.get(id)!), note: `(adopted from ${o.source})`, runDir: o.runDir(batch), contexts: analysis.contexts }),
      { signal: o.signal },
    );
    if (checked.kind === 'cancelled') break;
    if (checked.kind === 'invalid') {
      const bad = new Set(checked.errors.map((e) => e.item).filter(Boolean));
      reject(`${bad.size || 'some'} item${bad.size === 1 ? '' : 's'} failed validation`, checked.errors.map((e) => ({ attempt: 0, ...e })));
      continue;
    }
    // items: independent: every item is cached under its own key too, as a build would have cached it, so
    // that a later edit of one seed regenerates that item only.
    const [start] = d.graph.batchRange(batch);
    const cache = o.phase.items === 'independent' ? await Promise.all(refs.map(([id, h], i) => d.itemKey(o.phase, start + i, id, h, analysis.contexts))) : [];
    await d.recordOutput(
      o.phase,
      target,
      decision,
      checked.items,
      { attempts: 0, ms: 0, at: (o.now?.() ?? new Date()).toISOString(), adopted: o.source, warnings: checked.warnings },
      cache,
    );
    report.adopted.push(target);
  }
  return report;
}
