import type { PhaseConfig } from '../config/pipeline.js';
import type { BuildEvent } from '../events/types.js';
import { Analysis } from './analyze.js';
import type { Decider } from './decide.js';
import { batchTarget, type BuildGraph, type Request, type TargetId } from './targets.js';

/**
 * The batches a batch reads: its upstream batch, and the context phase's batches up to its own, but for
 * those already given (`given`: per context phase, how many; a vocabulary is read from its first batch on).
 */
export function* reads(graph: BuildGraph, phase: PhaseConfig, batch: number, given: Map<string, number>): Generator<[PhaseConfig, number]> {
  const up = graph.upstream(phase);
  if (up) yield [up, batch];
  if (phase.context) {
    const source = graph.phase(phase.context.phase);
    const from = given.get(source.name) ?? 0;
    if (from < batch) given.set(source.name, batch);
    for (let j = from + 1; j <= batch; j++) if (source !== up || j !== batch) yield [source, j];
  }
}

/** What a build will do, as planned before anything runs. */
export interface Plan {
  /** Each batch's status (what it is found fresh is taken as it is). */
  analysis: Analysis;
  /** Batches to run or that may run (stale, or pending on an upstream rerun). */
  planned: number;
  /** The phases with batches to run or that may run (their agents may start). */
  phasesToRun: Set<PhaseConfig>;
}

/** Decides every batch the requests need (and what they read), and announces it: the `planned` event. */
export async function plan(d: Decider, requests: Request[], o: { jobs: number; emit(e: BuildEvent): void }): Promise<Plan> {
  const analysis = new Analysis(d);
  const seen = new Set<TargetId>();
  const given = new Map<string, number>();
  const phasesToRun = new Set<PhaseConfig>();
  const counts = { fresh: 0, stale: 0, pending: 0, failedBefore: 0 };
  /** The batches that will or may run (a dashboard shows them queued). */
  const toRun: TargetId[] = [];
  let remote = 0;
  const visit = async (phase: PhaseConfig, batch: number): Promise<void> => {
    const t = batchTarget(phase.name, batch);
    if (seen.has(t)) return;
    seen.add(t);
    for (const [p, b] of reads(d.graph, phase, batch, given)) await visit(p, b);
    const s = await analysis.batch(phase, batch);
    counts[s.kind]++;
    if (s.kind !== 'fresh') {
      phasesToRun.add(phase);
      toRun.push(t);
    }
    if (s.kind === 'stale' && s.failure) counts.failedBefore++;
    if (s.kind === 'fresh' && s.reason.kind === 'remote' && s.reason.taken) remote++;
  };
  for (const r of requests) for (const b of r.batches) await visit(d.graph.phase(r.phase), b);
  o.emit({ event: 'planned', seeds: d.graph.seedCount, batches: seen.size, jobs: o.jobs, ...counts, toRun, ...(remote ? { remote } : {}) });
  return { analysis, planned: counts.stale + counts.pending, phasesToRun };
}
