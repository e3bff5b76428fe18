import { count } from '../util/plural.js';
import path from 'node:path';
import type { UserError } from '../util/errors.js';
import { suggestion } from '../util/didYouMean.js';
import { err, ok, type Result } from '../util/result.js';
import { batchStarts } from './batching.js';
import type { PhaseConfig, Pipeline } from '../config/pipeline.js';

/** "phase#k" (a batch, k 1-based) or "phase" (a whole phase: its batches and its merged output). */
export type TargetId = string & { readonly __brand: 'TargetId' };

export function batchTarget(phase: string, batch: number): TargetId {
  return `${phase}#${batch}` as TargetId;
}

export function phaseTarget(phase: string): TargetId {
  return phase as TargetId;
}

export function parseBatchTarget(id: string): { phase: string; batch: number } | null {
  const m = /^(.+)#(\d+)$/.exec(id);
  return m ? { phase: m[1]!, batch: Number(m[2]) } : null;
}

/** The static shape of the build: phases × batches. Batch k of every phase covers the same seeds. */
export class BuildGraph {
  readonly batchCount: number;
  readonly seedCount: number;
  private readonly byName: Map<string, PhaseConfig>;
  /** Seed position where each batch starts (see batching.ts). */
  private readonly starts: number[];

  constructor(
    readonly pipeline: Pipeline,
    ids: readonly string[],
  ) {
    this.seedCount = ids.length;
    this.starts = batchStarts(ids, pipeline.batchSize, pipeline.batching);
    this.batchCount = this.starts.length;
    this.byName = new Map(pipeline.phases.map((p) => [p.name, p]));
  }

  get phases(): readonly PhaseConfig[] {
    return this.pipeline.phases;
  }

  phase(name: string): PhaseConfig {
    const p = this.byName.get(name);
    if (!p) throw new Error(`no phase ${name}`);
    return p;
  }

  /** The phase this one reads from, or null when it reads the seeds. */
  upstream(phase: PhaseConfig): PhaseConfig | null {
    return phase.from === 'seeds' ? null : this.phase(phase.from);
  }

  /** Seed positions [start, end) of batch k (1-based). */
  batchRange(batch: number): [number, number] {
    return [this.starts[batch - 1] ?? this.seedCount, this.starts[batch] ?? this.seedCount];
  }

  /** The batch holding the seed at this position. */
  batchOf(position: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= position) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  }

  batches(): number[] {
    return Array.from({ length: this.batchCount }, (_, i) => i + 1);
  }

  /** Phases downstream of `name` (transitively), in pipeline order. */
  downstream(name: string): PhaseConfig[] {
    const out = new Set<string>([name]);
    for (const p of this.phases) if (out.has(p.from)) out.add(p.name);
    out.delete(name);
    return this.phases.filter((p) => out.has(p.name));
  }
}

/** What the user asked for: per phase, which batches, and whether its merged output is wanted. */
export interface Request {
  phase: string;
  batches: number[];
  merge: boolean;
}

/**
 * Resolves command-line target names: an output path (relative to the pipeline directory), an output's file
 * name when unambiguous, a phase name, or NAME#k. No names = every phase's output.
 */
export function resolveTargets(graph: BuildGraph, names: string[]): Result<Request[], UserError> {
  const all = graph.batches();
  if (names.length === 0) return ok(graph.phases.map((p) => ({ phase: p.name, batches: all, merge: true })));
  const requests: Request[] = [];
  const candidates = graph.phases.flatMap((p) => [p.name, p.output, path.basename(p.output)]);
  for (const name of names) {
    const b = parseBatchTarget(name);
    if (b) {
      const phase = graph.phases.find((p) => p.name === b.phase);
      if (!phase) return err({ kind: 'usage', message: `unknown phase "${b.phase}" in target ${name}${suggestion(b.phase, graph.phases.map((p) => p.name))}` });
      if (b.batch < 1 || b.batch > graph.batchCount) {
        return err({
          kind: 'usage',
          message: `${name}: phase ${b.phase} has batches 1 to ${graph.batchCount}`,
          hint: `${count(graph.seedCount, 'seed')} in batches of ${graph.pipeline.batchSize}`,
        });
      }
      requests.push({ phase: b.phase, batches: [b.batch], merge: false });
      continue;
    }
    const norm = path.normalize(name);
    const byPath = graph.phases.find((p) => p.name === name || p.output === norm);
    if (byPath) {
      requests.push({ phase: byPath.name, batches: all, merge: true });
      continue;
    }
    const byBase = graph.phases.filter((p) => path.basename(p.output) === name);
    if (byBase.length === 1) {
      requests.push({ phase: byBase[0]!.name, batches: all, merge: true });
      continue;
    }
    if (byBase.length > 1) {
      return err({
        kind: 'usage',
        message: `"${name}" is ambiguous: ${byBase.map((p) => p.output).join(', ')}`,
        hint: 'name the output by its path or the phase by its name',
      });
    }
    return err({
      kind: 'usage',
      message: `unknown target "${name}"${suggestion(name, candidates)}`,
      hint: `targets: an output path (${graph.phases.map((p) => p.output).join(', ')}), a phase name, or PHASE#k for batch k`,
    });
  }
  return ok(requests);
}
