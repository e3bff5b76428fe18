import type { Hash } from '../util/hash.js';
import type { Decider } from './decide.js';
import { encodeRefs, type ContextValue, type RefsText } from './fingerprint.js';
import type { PhaseConfig } from '../config/pipeline.js';

/** What an agent run was started from, as its key saw it. */
export type RunInput =
  /** items: batch: one whole batch (its key covers all of its items). */
  | { kind: 'batch'; batch: number; items: RefsText; context?: ContextValue; key: Hash }
  /** items: independent: one item of a packed run (its own key). */
  | { kind: 'item'; id: string; input: Hash; context?: ContextValue; key: Hash };

/** An agent run going on now, and how to stop it alone (cf watch, when its inputs change mid-build). */
export interface RunningRun {
  /** The batch (`pairs#3`), or the batches a packed run serves (`pairs#3+7`). */
  target: string;
  phase: PhaseConfig;
  inputs: RunInput[];
  abort(): void;
}

/**
 * True when the inputs as `next` sees them (after a change on disk) are no longer those the run was
 * started from: its phase is gone, or any batch or item it serves has another key now. Items and batches
 * of later phases are read from what the run was given (their upstream outputs do not change mid-build).
 */
export function isOutdated(run: RunningRun, next: Decider): boolean {
  const phase = next.graph.phases.find((p) => p.name === run.phase.name);
  if (!phase) return true;
  let seedHash: Map<string, Hash> | undefined;
  const seedOf = (id: string): Hash | undefined => {
    seedHash ??= new Map(next.seeds.ids.map((x, i) => [x, next.seeds.hashes[i]!]));
    return seedHash.get(id);
  };
  return run.inputs.some((x) => {
    if (x.kind === 'batch') {
      const items = phase.from === 'seeds' ? next.seedRefs(x.batch) : x.items;
      return next.keyFor(phase, items, x.context) !== x.key;
    }
    const input = phase.from === 'seeds' ? seedOf(x.id) : x.input;
    return input === undefined || next.keyFor(phase, encodeRefs([[x.id, input]]), x.context) !== x.key;
  });
}

/** The agent runs going on now, and which of them cf watch found outdated (those never start, or stop). */
export class RunningRuns {
  private readonly runs = new Set<RunningRun>();
  /** The inputs after a change mid-build: runs of older inputs are cancelled, even ones starting later. */
  private outdatedBy: Decider | undefined;

  /** Registers a run starting; null when cf watch already saw its inputs change (it does not start). */
  register(run: RunningRun): (() => void) | null {
    if (this.outdatedBy && isOutdated(run, this.outdatedBy)) return null;
    this.runs.add(run);
    return () => this.runs.delete(run);
  }

  /** Cancels every run whose batch or items have another key as `next` decides, and any such run later. */
  cancelOutdated(next: Decider): void {
    this.outdatedBy = next;
    for (const r of this.runs) if (isOutdated(r, next)) r.abort();
  }

  list(): RunningRun[] {
    return [...this.runs];
  }
}
