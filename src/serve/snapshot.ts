import path from 'node:path';
import { correctionStates } from '../app/corrections.js';
import type { Workspace } from '../app/workspace.js';
import { Analysis } from '../engine/analyze.js';
import { batchTarget } from '../engine/targets.js';
import { addUsage, emptyTotals, type UsageTotals } from '../exec/runners/usage.js';
import type { Baseline, BatchCell, Failure } from './progress.js';

/**
 * What is recorded now, as the dashboard shows it when nothing runs: every batch's state as a build
 * would find it (the statuses `cf status` reads), its last run's duration, the recorded failures, what the
 * current batches cost, and the corrections (how many, how many made against an older generation).
 */
export async function snapshot(ws: Workspace): Promise<Baseline> {
  const { graph, pipeline } = ws.inputs;
  const cells = new Map<string, BatchCell>();
  const usage: Record<string, UsageTotals> = {};
  const failures: Failure[] = [];
  const store = await ws.openStore(true);
  try {
    const analysis = new Analysis(ws.inputs.decider(store));
    for (const phase of graph.phases) {
      const totals = (usage[phase.name] = emptyTotals());
      for (const b of graph.batches()) {
        const target = batchTarget(phase.name, b);
        const s = await analysis.batch(phase, b);
        const failure = s.kind !== 'fresh' ? store.failure(target) : undefined;
        const built = s.kind === 'fresh' ? s.record : store.lastSuccess(target);
        for (const u of [...(built?.usage ?? []), ...(failure?.usage ?? [])]) addUsage(totals, u, u.attempt > 1);
        if (failure && !failure.stopped) failures.push({ target, phase: phase.name, batch: b, attempts: failure.attempts, at: failure.at, errors: failure.errors });
        const state = s.kind === 'fresh' ? 'fresh' : s.kind === 'pending' ? 'waiting' : s.failure ? 'failed' : 'stale';
        cells.set(target, { state, ...(built && built.attempts > 0 ? { ms: built.ms } : {}) });
      }
    }
  } finally {
    store.close();
  }
  const corrections: Baseline['corrections'] = {};
  for (const c of await correctionStates(ws)) {
    const n = (corrections[c.phase] ??= { count: 0, older: 0 });
    n.count++;
    if (c.state !== 'current') n.older++;
  }
  return {
    course: pipeline.course?.code ?? path.basename(pipeline.dir),
    seeds: graph.seedCount,
    batchCount: graph.batchCount,
    phases: graph.phases.map((p) => ({ name: p.name, output: p.output })),
    cells,
    usage,
    failures,
    corrections,
  };
}
