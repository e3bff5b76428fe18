import { rm } from 'node:fs/promises';
import path from 'node:path';
import { acquireLock, describeLockWait } from '../../graph/lock.js';
import { decodeRefs } from '../../graph/fingerprint.js';
import { DiskObjectStore } from '../../graph/objects.js';
import { statePaths } from '../../graph/state.js';
import { batchTarget, phaseTarget, type TargetId } from '../../graph/targets.js';
import type { GlobalOptions } from '../main.js';
import { requireInputs, readState } from '../session.js';

/**
 * Deletes merged outputs and forgets batch records: the named targets, or everything. Kept: hand-edited
 * outputs cf replaced earlier (.cf/replaced/).
 */
export async function cleanCommand(opts: GlobalOptions, names: string[]): Promise<number> {
  const { inputs, requests } = await requireInputs(opts.dir, names);
  const paths = statePaths(opts.dir);
  const lock = await acquireLock(opts.dir, 'clean', (o) => process.stderr.write(`cf: ${describeLockWait(o)}\n`));
  try {
    const state = await readState(opts.dir, false);
    const seedIds = inputs.decider(state).seeds.ids;
    const forget = new Set<TargetId>();
    /** items: independent: a batch's items (as the seeds cut them now, and as last built) are forgotten with it. */
    const itemsOf = new Map<TargetId, string[]>();
    const removed: string[] = [];
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
      for (const b of r.batches) await rm(path.join(paths.runs, phase.name, String(b)), { recursive: true, force: true });
      if (r.merge) {
        forget.add(phaseTarget(phase.name));
        const file = path.resolve(opts.dir, phase.output);
        const existed = await rm(file).then(
          () => true,
          () => false,
        );
        if (existed) removed.push(phase.output);
      }
    }
    const at = new Date().toISOString();
    for (const target of forget) {
      const items = itemsOf.get(target);
      state.append({ t: 'forget', target, at, ...(items ? { items } : {}) });
    }
    await state.compact({ full: true });
    const gone = await new DiskObjectStore(paths.objects).retain(state.liveObjects());
    state.close();
    const batches = [...forget].filter((t) => t.includes('#')).length;
    const parts = [removed.length ? `removed ${removed.join(', ')}` : 'no outputs to remove', `forgot ${batches} batch record${batches === 1 ? '' : 's'}`];
    if (gone) parts.push(`deleted ${gone} stored output${gone === 1 ? '' : 's'}`);
    process.stdout.write(`cf: ${parts.join('; ')}\n`);
    return 0;
  } finally {
    await lock.release();
  }
}
