import type { PhaseConfig } from '../config/pipeline.js';
import type { Item } from '../config/seeds.js';
import { adoptPhase, type AdoptReport } from '../engine/adopt.js';
import { Budget } from '../exec/budget.js';
import type { LockOwner } from '../store/lock.js';
import type { Workspace } from './workspace.js';

/**
 * `cf adopt`: these items (an existing merged output, read) become the phase's batch outputs, each batch
 * checked by the phase's whole validator first, under the lock; the stat cache kept.
 */
export async function adopt(ws: Workspace, phase: PhaseConfig, items: Item[], source: string, o: { onWait(owner: LockOwner | null): void }): Promise<AdoptReport> {
  const lock = await ws.lock('adopt', o.onWait);
  try {
    const store = await ws.openStore(false);
    try {
      const report = await adoptPhase({
        decider: ws.inputs.decider(store),
        phase,
        items,
        source,
        executor: ws.executor({ jobs: ws.pipeline.jobs, budget: new Budget(null) }).executor,
        runDir: (batch) => {
          const dir = ws.runDir(phase, batch);
          return dir && `${dir}/adopt`;
        },
        signal: new AbortController().signal,
        now: () => ws.now(),
      });
      await ws.inputs.cache.save();
      return report;
    } finally {
      store.close();
    }
  } finally {
    await lock.release();
  }
}
