import { rm } from 'node:fs/promises';
import { decodeRefs } from '../engine/fingerprint.js';
import { batchTarget, phaseTarget, type Request, type TargetId } from '../engine/targets.js';
import type { OpenedStore } from '../store/buildStore.js';
import type { LockOwner } from '../store/lock.js';
import type { ForgetRecord } from '../store/records.js';
import type { Workspace } from './workspace.js';

/** What cleaning these targets deletes: decided from the records alone, so that `cf clean -n` lists exactly it. */
interface Plan {
  /** Forget records, one per batch and phase target (an items: independent batch's items with it). */
  forget: ForgetRecord[];
  /** Attempt directories (.cf/runs/PHASE/BATCH). */
  runDirs: string[];
  /** Merged outputs (as pipeline.yaml names them). */
  outputs: string[];
}

export interface CleanReport {
  dryRun: boolean;
  /** Merged outputs removed (or that would be). */
  outputs: string[];
  /** Batch records forgotten (or that would be). */
  batches: TargetId[];
  /** Run directories deleted (a dry run: those that exist). */
  runDirs: string[];
  /** Stored outputs no record refers to any more, deleted (or that would be). */
  storedOutputs: number;
}

function plan(ws: Workspace, requests: Request[], store: OpenedStore): Plan {
  const { graph } = ws.inputs;
  const seedIds = ws.inputs.decider(store).seeds.ids;
  const forget = new Set<TargetId>();
  /** items: independent: a batch's items (as the seeds cut them now, and as last built) are forgotten with it. */
  const itemsOf = new Map<TargetId, string[]>();
  const runDirs: string[] = [];
  const outputs: string[] = [];
  for (const r of requests) {
    const phase = graph.phase(r.phase);
    const batches = r.merge ? store.targets().filter((t) => t.startsWith(`${phase.name}#`)) : r.batches.map((b) => batchTarget(phase.name, b));
    for (const t of batches) forget.add(t);
    if (!r.merge && phase.items === 'independent') {
      for (const b of r.batches) {
        const t = batchTarget(phase.name, b);
        const [start, end] = graph.batchRange(b);
        const built = store.lastSuccess(t);
        itemsOf.set(t, [...new Set([...seedIds.slice(start, end), ...(built ? decodeRefs(built.items).map(([id]) => id) : [])])]);
      }
    }
    for (const b of r.batches) {
      const dir = ws.runDir(phase, b);
      if (dir) runDirs.push(dir);
    }
    if (r.merge) {
      forget.add(phaseTarget(phase.name));
      outputs.push(phase.output);
    }
  }
  const at = ws.now().toISOString();
  return {
    forget: [...forget].map((target) => {
      const items = itemsOf.get(target);
      return { t: 'forget', target, at, ...(items ? { items } : {}) };
    }),
    runDirs,
    outputs,
  };
}

const batchRecords = (p: Plan): TargetId[] => p.forget.map((r) => r.target).filter((t) => t.includes('#'));

/**
 * Deletes merged outputs and forgets batch records: the named targets, or everything. Kept: hand-edited
 * outputs cf replaced earlier (.cf/replaced/). `dryRun`: the same plan, deleting nothing, appending no
 * record, taking no lock (as cf status, it reads); stored outputs are counted as a clean would find them
 * (the forget records applied to the records in memory only, the history read).
 */
export async function clean(ws: Workspace, requests: Request[], o: { dryRun: boolean; onWait(owner: LockOwner | null): void }): Promise<CleanReport> {
  if (o.dryRun) {
    const store = await ws.openStore(true);
    try {
      const p = plan(ws, requests, store);
      const outputs: string[] = [];
      for (const out of p.outputs) if (await ws.outputs.stamp(out)) outputs.push(out);
      const { existsSync } = await import('node:fs');
      return { dryRun: true, outputs, batches: batchRecords(p), runDirs: p.runDirs.filter((d) => existsSync(d)), storedOutputs: await store.uncollected(p.forget) };
    } finally {
      store.close();
    }
  }
  const lock = await ws.lock('clean', o.onWait);
  try {
    const store = await ws.openStore(false);
    const p = plan(ws, requests, store);
    for (const d of p.runDirs) await rm(d, { recursive: true, force: true });
    const removed: string[] = [];
    for (const output of p.outputs) if (await ws.outputs.remove(output)) removed.push(output);
    for (const r of p.forget) store.forget(r);
    const gone = await store.collect();
    store.close();
    return { dryRun: false, outputs: removed, batches: batchRecords(p), runDirs: p.runDirs, storedOutputs: gone };
  } finally {
    await lock.release();
  }
}
