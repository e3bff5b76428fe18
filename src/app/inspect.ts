import { Analysis, type BatchStatus, type MergeStatus } from '../engine/analyze.js';
import { batchTarget, type Request } from '../engine/targets.js';
import { addUsage, emptyTotals, type UsageTotals } from '../exec/runners/usage.js';
import type { BatchRecord, FailureRecord } from '../store/records.js';
import { closure } from './closure.js';
import type { Workspace } from './workspace.js';

/*
 * What cf status, cf explain and cf build -n know, as data: the batches' statuses as a build would find
 * them (the same records, the history included), read-only. The commands print it (cli/format/*).
 */

export interface DryRunReport {
  /** Every batch the requests need, upstream chains included, in pipeline order. */
  rows: BatchStatus[];
  /** The requested merged outputs. */
  merges: MergeStatus[];
}

export async function dryRun(ws: Workspace, requests: Request[]): Promise<DryRunReport> {
  const store = await ws.openStore(true);
  try {
    const analysis = new Analysis(ws.inputs.decider(store));
    const rows = await Promise.all(closure(ws.inputs.graph, requests).map(({ phase, batch }) => analysis.batch(phase, batch)));
    const merges: MergeStatus[] = [];
    for (const r of requests) if (r.merge) merges.push(await analysis.merge(ws.inputs.graph.phase(r.phase), ws.outputs));
    return { rows, merges };
  } finally {
    store.close();
  }
}

/** A batch's state in one word, as cf status counts it: failed is stale whose last try with these inputs failed. */
export type BatchState = 'fresh' | 'stale' | 'waiting' | 'failed';

export function stateOf(s: BatchStatus): BatchState {
  if (s.kind === 'fresh') return 'fresh';
  if (s.kind === 'stale') return s.failure ? 'failed' : 'stale';
  return 'waiting';
}

/** Every batch's state, per phase (pipeline order), read-only: what cf graph --batches colours. */
export async function batchStates(ws: Workspace): Promise<Map<string, BatchState[]>> {
  const { graph } = ws.inputs;
  const store = await ws.openStore(true);
  try {
    const analysis = new Analysis(ws.inputs.decider(store));
    const out = new Map<string, BatchState[]>();
    for (const phase of graph.phases) {
      const states: BatchState[] = [];
      for (const b of graph.batches()) states.push(stateOf(await analysis.batch(phase, b)));
      out.set(phase.name, states);
    }
    return out;
  } finally {
    store.close();
  }
}

export interface PhaseRow {
  phase: string;
  batches: number;
  fresh: number;
  stale: number;
  waiting: number;
  failed: number;
  output: MergeStatus;
  /** What the phase's current batches (and recorded failures) cost to build. */
  usage: UsageTotals;
  /** Of the fresh batches: taken from the shared cache (built on another machine). */
  remote: number;
}

export interface StatusReport {
  seeds: { file: string; count: number; batchSize: number; batches: number; batching: string };
  phases: PhaseRow[];
  notFresh: BatchStatus[];
  failures: FailureRecord[];
}

export async function status(ws: Workspace): Promise<StatusReport> {
  const { graph, pipeline } = ws.inputs;
  const store = await ws.openStore(true);
  try {
    const analysis = new Analysis(ws.inputs.decider(store));
    const phases: PhaseRow[] = [];
    const notFresh: BatchStatus[] = [];
    const failures: FailureRecord[] = [];
    for (const phase of graph.phases) {
      const row: PhaseRow = { phase: phase.name, batches: graph.batchCount, fresh: 0, stale: 0, waiting: 0, failed: 0, output: await analysis.merge(phase, ws.outputs), usage: emptyTotals(), remote: 0 };
      for (const b of graph.batches()) {
        const s = await analysis.batch(phase, b);
        const f = s.kind !== 'fresh' ? store.failure(batchTarget(phase.name, b)) : undefined;
        const built = s.kind === 'fresh' ? s.record : store.lastSuccess(batchTarget(phase.name, b));
        for (const u of [...(built?.usage ?? []), ...(f?.usage ?? [])]) addUsage(row.usage, u, u.attempt > 1);
        if (f) failures.push(f);
        // Each batch counts once: fresh, failed (with these very inputs), stale (will run), or waiting.
        row[stateOf(s)]++;
        if (s.kind === 'fresh' && s.record.remote) row.remote++;
        if (s.kind !== 'fresh') notFresh.push(s);
      }
      phases.push(row);
    }
    return {
      seeds: { file: pipeline.seeds, count: graph.seedCount, batchSize: pipeline.batchSize, batches: graph.batchCount, batching: pipeline.batching },
      phases,
      notFresh,
      failures,
    };
  } finally {
    store.close();
  }
}

/** One batch explained: its status, what it was last built from, its last failure. */
export interface BatchExplanation {
  kind: 'batch';
  status: BatchStatus;
  /** The seeds it covers (first and last ids), when it covers any. */
  span: [string, string] | null;
  last?: BatchRecord;
  failure?: FailureRecord;
}

/** A merged output explained: its status and its batches'. */
export interface MergeExplanation {
  kind: 'merge';
  phase: string;
  output: string;
  status: MergeStatus;
  batches: BatchStatus[];
}

export async function explain(ws: Workspace, requests: Request[]): Promise<Array<BatchExplanation | MergeExplanation>> {
  const { graph } = ws.inputs;
  const store = await ws.openStore(true);
  try {
    const decider = ws.inputs.decider(store);
    const analysis = new Analysis(decider);
    const out: Array<BatchExplanation | MergeExplanation> = [];
    for (const r of requests) {
      const phase = graph.phase(r.phase);
      if (r.merge) {
        out.push({ kind: 'merge', phase: phase.name, output: phase.output, status: await analysis.merge(phase, ws.outputs), batches: await analysis.phase(phase) });
        continue;
      }
      for (const b of r.batches) {
        const status = await analysis.batch(phase, b);
        const target = batchTarget(phase.name, b);
        const [start, end] = graph.batchRange(b);
        const ids = decider.seeds.ids;
        const last = store.lastSuccess(target);
        const failure = status.kind !== 'fresh' ? store.failure(target) : undefined;
        out.push({ kind: 'batch', status, span: end > start ? [ids[start]!, ids[end - 1]!] : null, ...(last ? { last } : {}), ...(failure ? { failure } : {}) });
      }
    }
    return out;
  } finally {
    store.close();
  }
}
