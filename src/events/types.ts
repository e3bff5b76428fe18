import type { AttemptError } from '../exec/attempts.js';
import type { UserError } from '../util/errors.js';
import type { UsageTotals } from '../exec/runners/usage.js';

/** What a build did, target by target (the `summary` event; cf build's exit code is decided from it). */
export interface BuildSummary {
  ran: string[];
  fresh: string[];
  failed: string[];
  skipped: string[];
  merged: string[];
  cancelled: string[];
  /** Not started because of --max-cost. */
  stopped: string[];
  /** What this build's attempts consumed, per phase. */
  usage: Record<string, UsageTotals>;
}

/** A summary with nothing in it yet. */
export function emptySummary(): BuildSummary {
  return { ran: [], fresh: [], failed: [], skipped: [], merged: [], cancelled: [], stopped: [], usage: {} };
}

/**
 * Everything that happens in a build, as typed events. The human, quiet and NDJSON outputs are just
 * different consumers of this stream (src/cli/reporters.ts).
 */
export type BuildEvent =
  | { event: 'waiting'; reason: 'lock'; pid?: number; command?: string; since?: string; gone?: boolean }
  | { event: 'planned'; seeds: number; batches: number; jobs: number; fresh: number; stale: number; pending: number; failedBefore: number }
  | { event: 'fresh'; target: string; phase: string; batch: number; reason: string }
  | { event: 'started'; target: string; phase: string; batch: number; batchCount: number; items: number; reasons: string[]; packed?: string[] }
  | { event: 'attempt'; target: string; attempt: number; of: number }
  /** A process of a batch (or of a run packing several batches' items) took a -j slot, or gave it back. */
  | { event: 'process'; target: string; what: 'agent' | 'validator'; state: 'start' | 'end' }
  | { event: 'retried'; target: string; phase: string; batch: number; batchCount: number; attempt: number; of: number; errors: AttemptError[] }
  | {
      event: 'ran';
      target: string;
      phase: string;
      batch: number;
      batchCount: number;
      items: number;
      attempts: number;
      ms: number;
      warnings: number;
      /** items: independent: how many of the items an agent produced (the rest were cached). */
      regenerated?: number;
    }
  | { event: 'failed'; target: string; phase: string; batch: number; batchCount: number; attempts: number; errors: AttemptError[] }
  | { event: 'skipped'; target: string; phase: string; batch: number; because: string }
  /** Not built in this build: stopped by Ctrl-C or by cf watch, or `because` an input changed while cf ran. */
  | { event: 'cancelled'; target: string; because?: string }
  | { event: 'stopped'; target: string; phase: string; batch: number; reason: string }
  /** cf watch: a rebuild starts because these files (relative to the pipeline) changed. */
  | { event: 'changed'; files: string[] }
  /** cf watch: input it cannot build from (a broken pipeline.yaml or seeds file, a target gone); it keeps watching. */
  | ({ event: 'error' } & UserError)
  | { event: 'edit-taken'; phase: string; output: string; targets: string[] }
  | { event: 'edit-rejected'; phase: string; output: string; target?: string; errors: AttemptError[]; reason?: string }
  | { event: 'merged'; phase: string; output: string; items: number; batches: number; reason: string; replaced?: string }
  | { event: 'merge-fresh'; phase: string; output: string }
  | { event: 'merge-skipped'; phase: string; output: string; because: string }
  | ({ event: 'summary'; ok: boolean; exitCode: number; ms: number; maxCost?: number } & BuildSummary);
