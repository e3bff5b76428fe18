import type { PhaseConfig } from '../config/pipeline.js';
import type { BuildGraph, Request } from '../engine/targets.js';

/** The batches requests need, upstream chains included, in pipeline order (a dry run's rows, a budget's phases). */
export function closure(graph: BuildGraph, requests: Request[]): Array<{ phase: PhaseConfig; batch: number }> {
  const want = new Map<string, Set<number>>();
  const add = (phase: PhaseConfig, batch: number): void => {
    const s = want.get(phase.name) ?? new Set<number>();
    if (s.has(batch)) return;
    s.add(batch);
    want.set(phase.name, s);
    const up = graph.upstream(phase);
    if (up) add(up, batch);
  };
  for (const r of requests) for (const b of r.batches) add(graph.phase(r.phase), b);
  const out: Array<{ phase: PhaseConfig; batch: number }> = [];
  for (const phase of graph.phases) for (const b of [...(want.get(phase.name) ?? [])].sort((a, c) => a - c)) out.push({ phase, batch: b });
  return out;
}
