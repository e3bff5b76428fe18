import { correctionsFile, type Correction } from '../config/corrections.js';
import type { PhaseConfig } from '../config/pipeline.js';
import type { Item } from '../config/seeds.js';
import { Analysis, type BatchStatus } from '../engine/analyze.js';
import { correctItem, withCorrection } from '../engine/corrections.js';
import type { Decider } from '../engine/decide.js';
import { decodeRefs } from '../engine/fingerprint.js';
import { batchTarget, type TargetId } from '../engine/targets.js';
import type { AttemptError } from '../exec/attempts.js';
import { Budget } from '../exec/budget.js';
import { suggestion } from '../util/didYouMean.js';
import { osUser } from '../util/osUser.js';
import type { UserError } from '../util/errors.js';
import type { Workspace } from './workspace.js';

/*
 * What a reviewer does with corrections (engine/corrections.ts), as `cf correct`, `cf corrections` and the
 * dashboard do it: a correction is checked by the phase's whole validation (a check job through the
 * executor, with the batch's inputs and context, as an agent's answer would be) before it is saved; keeping
 * one made against an older generation re-bases it on the item generated now (checked again); dropping one
 * gives the item back to what was generated.
 */


export type CorrectionChange = { set: Item } | { pointer: string; value: unknown };

export type CorrectionOutcome =
  | { kind: 'saved'; target: string; corrections: Correction[]; file: string }
  /** The corrected batch failed the phase's validation: nothing was saved. */
  | { kind: 'invalid'; target: string; errors: AttemptError[] }
  | { kind: 'error'; error: UserError };

/** A fresh batch holding an item: where a correction of it is checked. */
interface Located {
  phase: PhaseConfig;
  batch: number;
  target: TargetId;
  status: Extract<BatchStatus, { kind: 'fresh' }>;
}

function usage(message: string, hint?: string): CorrectionOutcome {
  return { kind: 'error', error: { kind: 'usage', message, ...(hint ? { hint } : {}) } };
}

async function locate(ws: Workspace, d: Decider, analysis: Analysis, phaseName: string, id: string): Promise<Located | CorrectionOutcome> {
  const phase = ws.inputs.graph.phases.find((p) => p.name === phaseName);
  const names = ws.inputs.graph.phases.map((p) => p.name);
  if (!phase) return usage(`no phase "${phaseName}"${suggestion(phaseName, names)}`, `phases: ${names.join(', ')}`);
  const position = d.seeds.ids.indexOf(id);
  if (position < 0) return usage(`no item "${id}" in ${phaseName}: the seeds have no such id${suggestion(id, d.seeds.ids)}`);
  const batch = ws.inputs.graph.batchOf(position);
  const status = await analysis.batch(phase, batch);
  const target = batchTarget(phase.name, batch);
  if (status.kind !== 'fresh') return usage(`${target} is not built for the current inputs: there is no generated ${id} to correct`, `cf build ${target} first`);
  return { phase, batch, target, status };
}

/**
 * The batch with these corrections of the phase applied, through the phase's validation. `must`: a
 * correction that must apply (its pointer must name a place in the item).
 */
async function check(ws: Workspace, d: Decider, analysis: Analysis, at: Located, list: readonly Correction[], note: string, must?: Correction): Promise<CorrectionOutcome | null> {
  const idField = ws.pipeline.idField;
  const generated = (await d.correctedView(at.phase, at.status.record))?.generated ?? (JSON.parse((await d.store.blobs.get(at.status.record.out)) ?? '[]') as Item[]);
  const byId = new Map<string, Correction[]>();
  for (const c of list) byId.set(c.id, [...(byId.get(c.id) ?? []), c]);
  const items: Item[] = [];
  for (const it of generated) {
    const id = String(it[idField]);
    const r = correctItem(it, byId.get(id) ?? []);
    if (must && must.id === id && r.conflicts.includes(must)) return usage(`${must.pointer} names no place in ${id} (its parent does not exist)`, 'name an existing member, or correct the whole item with --set');
    items.push(r.item);
  }
  const inputs = await analysis.inputItems(at.phase, at.batch);
  if (!Array.isArray(inputs)) return usage('missing' in inputs ? inputs.missing : `${inputs.waiting} is not built`, 'cf build first');
  const dir = ws.runDir(at.phase, at.batch);
  const checked = await ws.executor({ jobs: ws.pipeline.jobs, budget: new Budget(null) }).executor.execute(
    d.checkJob({ phase: at.phase, target: at.target, batch: at.batch, idField, inputItems: inputs, ids: items.map((it) => String(it[idField])), output: items, note, runDir: dir && `${dir}/correction`, contexts: analysis.contexts }),
    { signal: new AbortController().signal },
  );
  if (checked.kind === 'invalid') return { kind: 'invalid', target: at.target, errors: checked.errors.map((e) => ({ attempt: 0, ...e })) };
  if (checked.kind === 'cancelled') return usage('the check of the correction was cancelled');
  return null;
}

/** A read-only look at the store for one operation. */
async function withAnalysis<T>(ws: Workspace, fn: (d: Decider, analysis: Analysis) => Promise<T>): Promise<T> {
  const store = await ws.openStore(true);
  try {
    const d = ws.inputs.decider(store);
    return await fn(d, new Analysis(d));
  } finally {
    store.close();
  }
}

/** `cf correct PHASE ID`: a correction of a generated item, saved once the batch so corrected validates. */
export function correct(ws: Workspace, o: { phase: string; id: string; change: CorrectionChange; author?: string }): Promise<CorrectionOutcome> {
  return withAnalysis(ws, async (d, analysis) => {
    const at = await locate(ws, d, analysis, o.phase, o.id);
    if ('kind' in at) return at;
    const base = new Map(decodeRefs(at.status.record.items)).get(o.id)!;
    const author = o.author ?? osUser();
    const c: Correction = { id: o.id, ...('set' in o.change ? { set: o.change.set } : { pointer: o.change.pointer, value: o.change.value }), base, author, at: ws.now().toISOString() };
    const refused = await check(ws, d, analysis, at, withCorrection(ws.inputs.corrections.of(o.phase), c), `(corrected by ${author})`, c);
    if (refused) return refused;
    const list = await ws.inputs.corrections.update(o.phase, (now) => withCorrection(now, c));
    return { kind: 'saved', target: at.target, corrections: list.filter((x) => x.id === o.id), file: correctionsFile(o.phase) };
  });
}

/** `cf corrections --keep ID`: the item's corrections re-based on the item generated now (checked again). */
export function keepCorrections(ws: Workspace, o: { phase: string; id: string }): Promise<CorrectionOutcome> {
  return withAnalysis(ws, async (d, analysis) => {
    if (!ws.inputs.corrections.ofItem(o.phase, o.id).length) return usage(`${o.id} has no correction in ${o.phase}`, `cf corrections ${o.phase} lists them`);
    const at = await locate(ws, d, analysis, o.phase, o.id);
    if ('kind' in at) return at;
    const base = new Map(decodeRefs(at.status.record.items)).get(o.id)!;
    const refused = await check(ws, d, analysis, at, ws.inputs.corrections.of(o.phase), `(corrections of ${o.id} kept)`);
    if (refused) return refused;
    const list = await ws.inputs.corrections.update(o.phase, (now) => now.map((c) => (c.id === o.id ? { ...c, base } : c)));
    return { kind: 'saved', target: at.target, corrections: list.filter((x) => x.id === o.id), file: correctionsFile(o.phase) };
  });
}

/** `cf corrections --drop ID`: the item is shown as generated again; how many corrections went. */
export async function dropCorrections(ws: Workspace, o: { phase: string; id: string }): Promise<{ dropped: number; file: string } | { error: UserError }> {
  const names = ws.inputs.graph.phases.map((p) => p.name);
  if (!names.includes(o.phase)) return { error: { kind: 'usage', message: `no phase "${o.phase}"${suggestion(o.phase, names)}`, hint: `phases: ${names.join(', ')}` } };
  const n = ws.inputs.corrections.ofItem(o.phase, o.id).length;
  if (!n) return { error: { kind: 'usage', message: `${o.id} has no correction in ${o.phase}`, hint: `cf corrections ${o.phase} lists them` } };
  await ws.inputs.corrections.update(o.phase, (now) => now.filter((c) => c.id !== o.id));
  return { dropped: n, file: correctionsFile(o.phase) };
}

/**
 * A correction as `cf status`, `cf corrections` and the dashboard show it: `current` (made against the
 * item generated now), `older` (the item was generated again since: it still applies, until kept or
 * dropped), `conflict` (its pointer names no place in the item generated now: not applied), `orphan` (no
 * seed has its id any more).
 */
export interface CorrectionState extends Correction {
  phase: string;
  target: string | null;
  state: 'current' | 'older' | 'conflict' | 'orphan';
  /** The batch is built for the current inputs (else the item it was compared with is the last one built). */
  built: boolean;
}

export function correctionStates(ws: Workspace, only?: string): Promise<CorrectionState[]> {
  return withAnalysis(ws, async (d, analysis) => {
    const out: CorrectionState[] = [];
    for (const phase of ws.inputs.graph.phases) {
      if (only && phase.name !== only) continue;
      for (const c of ws.inputs.corrections.of(phase.name)) {
        const position = d.seeds.ids.indexOf(c.id);
        if (position < 0) {
          out.push({ ...c, phase: phase.name, target: null, state: 'orphan', built: false });
          continue;
        }
        const batch = ws.inputs.graph.batchOf(position);
        const target = batchTarget(phase.name, batch);
        const status = await analysis.batch(phase, batch);
        const record = status.kind === 'fresh' ? status.record : d.store.lastSuccess(target);
        const conflicts = record ? ((await d.correctedView(phase, record))?.conflicts ?? []) : [];
        const generated = record ? new Map(decodeRefs(record.items)).get(c.id) : undefined;
        const state = conflicts.includes(c) ? 'conflict' : generated !== undefined && generated !== c.base ? 'older' : 'current';
        out.push({ ...c, phase: phase.name, target, state, built: status.kind === 'fresh' });
      }
    }
    return out;
  });
}
