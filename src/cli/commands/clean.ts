import { storeLayout } from '../../store/layout.js';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { acquireLock, describeLockWait } from '../../store/lock.js';
import { decodeRefs } from '../../engine/fingerprint.js';
import type { ForgetRecord } from '../../store/records.js';
import type { LocalStore } from '../../store/localStore.js';
import { batchTarget, phaseTarget, type Request, type TargetId } from '../../engine/targets.js';
import type { CleanOptions } from '../main.js';
import { count } from '../../util/plural.js';
import { openStore, requireInputs, type Inputs } from '../../app/session.js';

/** Batch targets named in a dry run's line for one phase; the rest are counted. */
const LIST_MAX = 12;

/** What cleaning these targets deletes: decided from the state alone, so that `cf clean -n` lists exactly it. */
interface Plan {
  /** Forget records, one per batch and phase target (an items: independent batch's items with it). */
  forget: ForgetRecord[];
  /** Attempt directories (.cf/runs/PHASE/BATCH), whether or not they exist. */
  runDirs: string[];
  /** Merged outputs (as pipeline.yaml names them), whether or not they exist. */
  outputs: string[];
}

function plan(dir: string, inputs: Inputs, requests: Request[], state: LocalStore): Plan {
  const paths = storeLayout(dir);
  const seedIds = inputs.decider(state).seeds.ids;
  const forget = new Set<TargetId>();
  /** items: independent: a batch's items (as the seeds cut them now, and as last built) are forgotten with it. */
  const itemsOf = new Map<TargetId, string[]>();
  const runDirs: string[] = [];
  const outputs: string[] = [];
  for (const r of requests) {
    const phase = inputs.graph.phase(r.phase);
    const batches = r.merge ? state.targets().filter((t) => t.startsWith(`${phase.name}#`)) : r.batches.map((b) => batchTarget(phase.name, b));
    for (const t of batches) forget.add(t);
    if (!r.merge && phase.items === 'independent') {
      for (const b of r.batches) {
        const t = batchTarget(phase.name, b);
        const [start, end] = inputs.graph.batchRange(b);
        const built = state.lastSuccess(t);
        itemsOf.set(t, [...new Set([...seedIds.slice(start, end), ...(built ? decodeRefs(built.items).map(([id]) => id) : [])])]);
      }
    }
    for (const b of r.batches) runDirs.push(path.join(paths.runs, phase.name, String(b)));
    if (r.merge) {
      forget.add(phaseTarget(phase.name));
      outputs.push(phase.output);
    }
  }
  const at = new Date().toISOString();
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
const runDirectories = (n: number): string => count(n, 'run directory', 'run directories');

/**
 * Deletes merged outputs and forgets batch records: the named targets, or everything. Kept: hand-edited
 * outputs cf replaced earlier (.cf/replaced/). With -n, lists what it would delete and changes nothing.
 */
export async function cleanCommand(opts: CleanOptions, names: string[]): Promise<number> {
  const { inputs, requests } = await requireInputs(opts.dir, names);
  if (opts.dryRun) return dryRun(opts.dir, inputs, requests);
  const lock = await acquireLock(opts.dir, 'clean', (o) => process.stderr.write(`cf: ${describeLockWait(o)}\n`));
  try {
    const state = await openStore(opts.dir, false);
    const p = plan(opts.dir, inputs, requests, state);
    for (const d of p.runDirs) await rm(d, { recursive: true, force: true });
    const removed: string[] = [];
    for (const output of p.outputs) {
      const existed = await rm(path.resolve(opts.dir, output)).then(
        () => true,
        () => false,
      );
      if (existed) removed.push(output);
    }
    for (const r of p.forget) state.forget(r);
    const gone = await state.collect();
    state.close();
    const batches = batchRecords(p).length;
    const parts = [removed.length ? `removed ${removed.join(', ')}` : 'no outputs to remove', `forgot ${count(batches, 'batch record')}`];
    if (gone) parts.push(`deleted ${count(gone, 'stored output')}`);
    process.stdout.write(`cf: ${parts.join('; ')}\n`);
    return 0;
  } finally {
    await lock.release();
  }
}

/**
 * `cf clean -n`: the same plan, listed. Nothing is deleted, no record appended, no lock taken (as cf status,
 * it reads). Stored outputs are counted as clean would find them: the forget records are applied to the
 * state in memory only, and its history (older runs kept for reverts) is read, since what it refers to stays.
 */
async function dryRun(dir: string, inputs: Inputs, requests: Request[]): Promise<number> {
  const paths = storeLayout(dir);
  const state = await openStore(dir, true);
  const p = plan(dir, inputs, requests, state);
  state.state.load(p.forget.map((r) => JSON.stringify(r)).join('\n'));
  const gone = await state.uncollected();
  state.close();
  const outputs = p.outputs.filter((o) => existsSync(path.resolve(dir, o)));
  const runDirs = p.runDirs.filter((d) => existsSync(d));
  const batches = batchRecords(p);
  const out: string[] = [];
  for (const o of outputs) out.push(`would remove ${o}`);
  const byPhase = new Map<string, TargetId[]>();
  for (const t of batches) {
    const phase = t.split('#')[0]!;
    byPhase.set(phase, [...(byPhase.get(phase) ?? []), t]);
  }
  const batchNumber = (t: TargetId): number => Number(t.split('#')[1]);
  for (const [phase, unsorted] of byPhase) {
    const ts = unsorted.sort((a, b) => batchNumber(a) - batchNumber(b));
    const shown = ts.slice(0, LIST_MAX).join(', ');
    out.push(`would forget ${count(ts.length, 'batch record')} of ${phase}: ${shown}${ts.length > LIST_MAX ? ` and ${ts.length - LIST_MAX} more` : ''}`);
  }
  if (runDirs.length) out.push(`would delete ${runDirectories(runDirs.length)} under ${path.relative(dir, paths.runs)}`);
  if (gone.length) out.push(`would delete ${count(gone.length, 'stored output')} under ${path.relative(dir, paths.objects)}`);
  out.push(
    `cf: dry run: would remove ${count(outputs.length, 'output')}, forget ${count(batches.length, 'batch record')}, delete ${runDirectories(runDirs.length)} and ${count(gone.length, 'stored output')}; nothing was deleted`,
  );
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}
