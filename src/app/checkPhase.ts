import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { PhaseConfig } from '../config/pipeline.js';
import type { Item } from '../config/seeds.js';
import { Analysis } from '../engine/analyze.js';
import { batchTarget, type TargetId } from '../engine/targets.js';
import { Budget } from '../exec/budget.js';
import type { ValidationError } from '../exec/validate.js';
import type { Workspace } from './workspace.js';

/*
 * `cf check FILE --phase NAME`: a file taken as the phase's merged output, each batch's items checked as
 * an agent's answer for that batch is (the built-in checks: every input id once, no other; the phase's
 * schema; its validate: rule set and command), against the batch's input items as a build would give
 * them now. Nothing is recorded, no lock is taken; command validators get their files in a temporary
 * directory, removed after.
 */

export type BatchCheck =
  | { target: TargetId; kind: 'valid'; items: number; warnings: ValidationError[] }
  | { target: TargetId; kind: 'invalid'; items: number; errors: Array<ValidationError & { source: string }>; warnings: ValidationError[] }
  /** Its input items are not known (the upstream batch is not built): it cannot be checked. */
  | { target: TargetId; kind: 'not-checked'; reason: string };

export interface PhaseCheckReport {
  phase: string;
  batches: BatchCheck[];
  /** Items of the file whose id is no current seed's (not checked). */
  unknownIds: string[];
}

export async function checkPhaseFile(ws: Workspace, phase: PhaseConfig, items: Item[]): Promise<PhaseCheckReport> {
  const idField = ws.pipeline.idField;
  const byId = new Map(items.map((it) => [String(it[idField]), it]));
  const store = await ws.openStore(true);
  // Command validators read the attempt's files: a directory of the check's own (in memory: none).
  const tmp = ws.runDir(phase, 1) === null ? null : await mkdtemp(path.join(tmpdir(), 'cf-check-'));
  try {
    const d = ws.inputs.decider(store);
    const analysis = new Analysis(d);
    const executor = ws.executor({ jobs: ws.pipeline.jobs, budget: new Budget(null) }).executor;
    const signal = new AbortController().signal;
    const batches = await Promise.all(
      d.graph.batches().map(async (batch): Promise<BatchCheck> => {
        const target = batchTarget(phase.name, batch);
        const inputItems = await analysis.inputItems(phase, batch);
        if (!Array.isArray(inputItems)) {
          return { target, kind: 'not-checked', reason: 'missing' in inputItems ? inputItems.missing : `its input ${inputItems.waiting} is not built (cf build ${inputItems.waiting.split('#')[0]})` };
        }
        const ids = inputItems.map((it) => String(it[idField]));
        const output = ids.flatMap((id) => (byId.has(id) ? [byId.get(id)!] : []));
        const checked = await executor.execute(
          d.checkJob({ phase, target, batch, idField, inputItems, ids, output, note: '(checked by cf check)', runDir: tmp && path.join(tmp, String(batch)), contexts: analysis.contexts }),
          { signal },
        );
        if (checked.kind === 'invalid') return { target, kind: 'invalid', items: output.length, errors: checked.errors, warnings: [] };
        if (checked.kind === 'cancelled') return { target, kind: 'not-checked', reason: 'cancelled' };
        return { target, kind: 'valid', items: output.length, warnings: checked.warnings };
      }),
    );
    const known = new Set(d.seeds.ids);
    return { phase: phase.name, batches, unknownIds: [...byId.keys()].filter((id) => !known.has(id)) };
  } finally {
    store.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  }
}
