import { checkOutput, itemsText, prepareFiles, type AttemptError } from '../rules/attempts.js';
import type { Validator } from '../rules/validate.js';
import { Analysis } from './analyze.js';
import { ContextSource, type Decider } from './decide.js';
import { decodeRefs, type RefsText } from './fingerprint.js';
import type { PhaseConfig } from './pipeline.js';
import type { Item } from './seeds.js';
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
  validator: Validator | null;
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
  const seedItems = up ? null : await d.seeds.items();
  for (const batch of d.graph.batches()) {
    const target = batchTarget(o.phase.name, batch);
    const reject = (reason: string, errors: AttemptError[] = []): void => {
      report.rejected.push({ target, reason, errors });
    };
    let refs: RefsText;
    let inputItems: Item[];
    if (up) {
      const u = analysis.batch(up, batch);
      if (u.kind !== 'fresh') {
        reject(`upstream ${batchTarget(up.name, batch)} is not built; build or adopt ${up.name} first`);
        continue;
      }
      refs = u.record.items;
      const text = await d.objects.get(u.record.out);
      if (text === null) {
        reject(`the recorded output of ${u.record.target} is missing`);
        continue;
      }
      inputItems = JSON.parse(text) as Item[];
    } else {
      refs = d.seedRefs(batch);
      const [start, end] = d.graph.batchRange(batch);
      inputItems = seedItems!.slice(start, end);
    }
    const contexts = new ContextSource((name, j) => {
      const s = analysis.batch(d.graph.phase(name), j);
      return s.kind === 'fresh' ? s.record : undefined;
    });
    const context = d.contextAt(o.phase, d.graph.batchRange(batch)[0], contexts);
    if (context && 'missing' in context) {
      reject(`its context ${context.missing} is not built; build or adopt it first`);
      continue;
    }
    const decision = d.decide(o.phase, batch, refs, context);
    if (decision.kind === 'fresh') {
      report.alreadyFresh.push(target);
      continue;
    }
    const ids = decodeRefs(refs).map(([id]) => id);
    const missing = ids.filter((id) => !byId.has(id));
    if (missing.length) {
      reject(`${missing.length} of ${ids.length} items are not in ${o.source}`, missing.map((id) => ({ attempt: 0, source: 'output', item: id, message: `${id} is not in ${o.source}` })));
      continue;
    }
    const output = ids.map((id) => byId.get(id)!);
    const text = JSON.stringify(output, null, 2);
    const inputJson = itemsText(inputItems);
    const dir = o.runDir(batch);
    const files = dir ? prepareFiles(dir, `(adopted from ${o.source})\n`, inputJson) : null;
    const env: Record<string, string> = { CF_PHASE: o.phase.name, CF_BATCH: String(batch), CF_BATCH_COUNT: String(d.graph.batchCount), CF_ATTEMPT: '0', CF_TARGET: target };
    if (files) {
      const { writeFile } = await import('node:fs/promises');
      await writeFile(files.output, text);
      Object.assign(env, { CF_PROMPT_FILE: files.prompt, CF_INPUT_FILE: files.input, CF_OUTPUT_FILE: files.output });
    }
    const checked = await checkOutput({ text, inputItems, inputIds: ids, idField, validator: o.validator, env, files, signal: o.signal });
    if (checked.kind === 'cancelled') break;
    if (checked.kind === 'invalid') {
      const bad = new Set(checked.errors.map((e) => e.item).filter(Boolean));
      reject(`${bad.size || 'some'} item${bad.size === 1 ? '' : 's'} failed validation`, checked.errors.map((e) => ({ attempt: 0, ...e })));
      continue;
    }
    await d.recordOutput(o.phase, target, decision, checked.items, {
      attempts: 0,
      ms: 0,
      at: (o.now?.() ?? new Date()).toISOString(),
      adopted: o.source,
      warnings: checked.warnings,
    });
    report.adopted.push(target);
  }
  return report;
}
