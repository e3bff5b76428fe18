import type { PhaseConfig } from '../config/pipeline.js';
import { emptySummary, type BuildEvent, type BuildSummary, type SkipReason } from '../events/types.js';
import type { AttemptError } from '../exec/attempts.js';
import type { BudgetStop } from '../exec/budget.js';
import type { JobEvent } from '../exec/executor.js';
import { addUsage, emptyTotals } from '../exec/runners/usage.js';
import type { BatchRecord } from '../store/records.js';
import type { FreshReason, StaleReason } from './staleness.js';
import type { TargetId } from './targets.js';

/** How a batch ended in this build. */
export type BatchResult =
  | { kind: 'ok'; record: BatchRecord }
  | { kind: 'failed' }
  | { kind: 'skipped' }
  | { kind: 'stopped' }
  | { kind: 'cancelled' };

/**
 * The build's account: what happened to each target, told as an event and counted in the summary, in one
 * place (a batch of either kind, a run of items, a batch that could not start all end here).
 */
export class Tally {
  readonly summary: BuildSummary = emptySummary();

  constructor(
    private readonly emit: (e: BuildEvent) => void,
    private readonly batchCount: () => number,
  ) {}

  fresh(phase: PhaseConfig, batch: number, target: TargetId, why: FreshReason, record: BatchRecord): BatchResult & { kind: 'ok' } {
    this.summary.fresh.push(target);
    if (why.kind === 'remote' && why.taken) (this.summary.remote ??= []).push(target);
    this.emit({ event: 'fresh', target, phase: phase.name, batch, why });
    return { kind: 'ok', record };
  }

  ran(phase: PhaseConfig, batch: number, target: TargetId, record: BatchRecord, o: { items: number; attempts: number; warnings: number; regenerated?: number }): BatchResult & { kind: 'ok' } {
    this.summary.ran.push(target);
    this.emit({ event: 'ran', target, phase: phase.name, batch, batchCount: this.batchCount(), items: o.items, attempts: o.attempts, ms: record.ms, warnings: o.warnings, ...(o.regenerated !== undefined ? { regenerated: o.regenerated } : {}) });
    return { kind: 'ok', record };
  }

  failed(phase: PhaseConfig, batch: number, target: TargetId, attempts: number, errors: AttemptError[]): BatchResult {
    this.summary.failed.push(target);
    this.emit({ event: 'failed', target, phase: phase.name, batch, batchCount: this.batchCount(), attempts, errors });
    return { kind: 'failed' };
  }

  stopped(phase: PhaseConfig, batch: number, target: TargetId, budget?: BudgetStop): BatchResult {
    this.summary.stopped.push(target);
    if (budget) this.emit({ event: 'stopped', target, phase: phase.name, batch, budget });
    return { kind: 'stopped' };
  }

  skipped(phase: PhaseConfig, batch: number, target: TargetId, why: SkipReason): BatchResult {
    this.summary.skipped.push(target);
    this.emit({ event: 'skipped', target, phase: phase.name, batch, why });
    return { kind: 'skipped' };
  }

  /**
   * Not built in this build: cancelled (Ctrl-C, cf watch), or `because` an input changed between computing
   * the batch's key and reading it for the run: not a failure of the batch; nothing is recorded; cf watch
   * builds it again with the new input, cf build reports it not built (run it again).
   */
  cancelled(target: TargetId, because?: string): BatchResult {
    this.summary.cancelled.push(target);
    this.emit({ event: 'cancelled', target, ...(because ? { because } : {}) });
    return { kind: 'cancelled' };
  }

  /** A batch counted fresh that runs after all (its stored output was found missing or damaged). */
  unfresh(target: TargetId): void {
    const i = this.summary.fresh.indexOf(target);
    if (i >= 0) this.summary.fresh.splice(i, 1);
    const r = this.summary.remote?.indexOf(target) ?? -1;
    if (r >= 0) this.summary.remote!.splice(r, 1);
  }

  /**
   * A job's events as the build's: `started` when its first agent gets a slot (its files were prepared
   * before, outside the slot), its attempts and processes, every attempt's usage counted for its phase.
   */
  listen(x: { target: string; phase: PhaseConfig; batch: number; items: number; why: StaleReason[]; packed?: string[]; runDir?: string | null }): (e: JobEvent) => void {
    let started = false;
    const totals = (this.summary.usage[x.phase.name] ??= emptyTotals());
    return (e) => {
      switch (e.kind) {
        case 'attempt':
          if (!started) {
            started = true;
            this.emit({ event: 'started', target: x.target, phase: x.phase.name, batch: x.batch, batchCount: this.batchCount(), items: x.items, why: x.why, ...(x.packed ? { packed: x.packed } : {}), ...(x.runDir ? { runDir: x.runDir } : {}), ...(e.worker ? { worker: e.worker } : {}) });
          }
          this.emit({ event: 'attempt', target: x.target, phase: x.phase.name, batch: x.batch, attempt: e.attempt, of: e.of, ...(e.worker ? { worker: e.worker } : {}) });
          break;
        case 'process':
          this.emit({ event: 'process', target: x.target, what: e.what, state: e.state });
          break;
        case 'retried':
          this.emit({ event: 'retried', target: x.target, phase: x.phase.name, batch: x.batch, batchCount: this.batchCount(), attempt: e.attempt, of: e.of, errors: e.errors });
          break;
        case 'attempt-done':
          // Every attempt counts, priced or not (a local agent reports no usage).
          if (e.usage) addUsage(totals, e.usage, e.attempt > 1);
          else totals.attempts++;
          this.emit({ event: 'attempt-done', target: x.target, phase: x.phase.name, batch: x.batch, attempt: e.attempt, usage: e.usage, runDir: e.dir });
          break;
        case 'refused':
          this.emit({ event: 'refused', target: x.target, worker: e.worker, reason: e.reason });
          break;
      }
    };
  }
}
