import type { FreshReason, StaleReason } from '../engine/staleness.js';
import type { AttemptError } from '../exec/attempts.js';
import type { BudgetStop } from '../exec/budget.js';
import type { Usage, UsageTotals } from '../exec/runners/usage.js';
import type { UserError } from '../util/errors.js';

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
  /** Of `fresh`: taken from the shared cache by this build (built on another machine; no agent ran). */
  remote?: string[];
}

/** A summary with nothing in it yet. */
export function emptySummary(): BuildSummary {
  return { ran: [], fresh: [], failed: [], skipped: [], merged: [], cancelled: [], stopped: [], usage: {} };
}

/** Why a batch did not run: a batch it reads (its upstream, or its context phase's) failed or was skipped. */
export interface SkipReason {
  kind: 'upstream' | 'context';
  target: string;
  was: 'failed' | 'skipped';
}

/** Why a merged output is written. */
export type MergeReason =
  | { kind: 'first' }
  | { kind: 'missing' }
  | { kind: 'batches-changed' }
  /** The file was edited by hand (edits that validated were taken first); the edited copy is kept. */
  | { kind: 'edited'; kept: string }
  /** A file cf did not write was there; it is kept. */
  | { kind: 'not-ours'; kept: string };

/** Why a merged output is not written. */
export type MergeSkip = { kind: 'batches-not-built'; targets: string[] } | { kind: 'input-changed'; message: string };

/**
 * Everything that happens in a build, as typed events with structured data (no wording: the reporters in
 * src/cli own it). The human, quiet and NDJSON outputs, a dashboard, a log under .cf/ are subscribers of
 * one EventBus (bus.ts), which stamps every event with its build, a sequence number and a time.
 */
export type BuildEvent =
  | { event: 'waiting'; reason: 'lock'; pid?: number; command?: string; since?: string; gone?: boolean }
  /**
   * `toRun`: the batch targets that will run or may run (stale or pending), in plan order. `remote`: of the
   * fresh, taken from the shared cache while planning (absent: none).
   */
  | { event: 'planned'; seeds: number; batches: number; jobs: number; fresh: number; stale: number; pending: number; failedBefore: number; toRun?: string[]; remote?: number }
  | { event: 'fresh'; target: string; phase: string; batch: number; why: FreshReason }
  /** `worker`: the worker of a queue (cf build --queue) that runs it. */
  | { event: 'started'; target: string; phase: string; batch: number; batchCount: number; items: number; why: StaleReason[]; packed?: string[]; runDir?: string; worker?: string }
  | { event: 'attempt'; target: string; phase: string; batch: number; attempt: number; of: number; worker?: string }
  /** A worker of the queue would not run the batch (its checkout differs: `reason`); another worker takes it. */
  | { event: 'refused'; target: string; worker: string; reason: string }
  /** cf build --queue: where its jobs go (`workers`: connected now), or that the queue stopped answering (`down`, with why). */
  | { event: 'queue'; queue: string; workers?: string[]; down?: string }
  /** A process of a batch (or of a run packing several batches' items) took a -j slot, or gave it back. */
  | { event: 'process'; target: string; what: 'agent' | 'validator'; state: 'start' | 'end' }
  /** An attempt's agent run ended: what it consumed (null when its runner reports nothing), and where its files are. */
  | { event: 'attempt-done'; target: string; phase: string; batch: number; attempt: number; usage: Usage | null; runDir: string | null }
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
  | { event: 'skipped'; target: string; phase: string; batch: number; why: SkipReason }
  /** Not built in this build: stopped by Ctrl-C or by cf watch, or `because` an input changed while cf ran (what changed). */
  | { event: 'cancelled'; target: string; because?: string }
  | { event: 'stopped'; target: string; phase: string; batch: number; budget: BudgetStop }
  /** cf watch: a rebuild starts because these files (relative to the pipeline) changed. */
  | { event: 'changed'; files: string[] }
  /** cf watch: input it cannot build from (a broken pipeline.yaml or seeds file, a target gone); it keeps watching. */
  | ({ event: 'error' } & UserError)
  /** A merged output edited by hand: the batches whose items it changed, now corrected (`corrections`: the file). */
  | { event: 'edit-taken'; phase: string; output: string; targets: string[]; corrections?: string }
  | { event: 'edit-rejected'; phase: string; output: string; target?: string; errors: AttemptError[]; reason?: string }
  | { event: 'merged'; phase: string; output: string; items: number; batches: number; why: MergeReason }
  | { event: 'merge-fresh'; phase: string; output: string }
  | { event: 'merge-skipped'; phase: string; output: string; why: MergeSkip }
  /**
   * The shared cache did not answer or refused (`op`: while reading, or publishing): said once a build, which
   * goes on locally (after a publishing failure it still reads).
   */
  | { event: 'remote-unavailable'; remote: string; op: 'read' | 'publish'; reason: string }
  /** What the shared cache holds for a batch (or "PHASE item ID") is damaged or incomplete: not taken, it is built here. */
  | { event: 'remote-damaged'; remote: string; target: string; reason: string }
  /** What this build published to the shared cache, all stored before it ended (`waitedMs`: how long it waited at its end for the last uploads). */
  | { event: 'remote-published'; remote: string; batches: number; items: number; waitedMs: number }
  /** The processes a cf that died holding this directory's lock left running: stopped, or not dying. */
  | { event: 'leftovers'; pid: number; command: string; killed: number; left: number[] }
  | ({ event: 'summary'; ok: boolean; exitCode: number; ms: number; maxCost?: number } & BuildSummary);

/** What every event carries once emitted: which build, its place in the build's events, when. */
export interface Stamp {
  buildId: string;
  seq: number;
  ts: string;
}

export type StampedEvent = BuildEvent & Stamp;
