import type { PhaseConfig } from '../config/pipeline.js';
import type { BuildEvent } from '../events/types.js';
import type { BatchExecutor } from '../exec/executor.js';
import type { OutputStore } from '../store/outputs.js';
import type { Decider } from './decide.js';

export interface EngineOptions {
  decider: Decider;
  /** Runs the jobs: agents, validators, retries (exec/): on this machine, or elsewhere. */
  executor: BatchExecutor;
  outputs: OutputStore;
  /** The phase's intelligence text (checked against the hash its keys were computed with). */
  intelligence(phase: PhaseConfig): Promise<string>;
  /** Where a batch's attempts keep their files; null for in-memory runs. */
  runDir(phase: PhaseConfig, batch: number): string | null;
  /** -j: how many batches are prepared ahead of the executor's slots (twice as many). */
  jobs: number;
  /** Phases whose jobs are gathered and sent together (a Message Batch): started all at once, not staged. */
  unstaged?(phase: PhaseConfig): boolean;
  emit(e: BuildEvent): void;
  /** Cancels everything: running agents are killed, nothing half-done is recorded. */
  signal: AbortSignal;
  /**
   * Stops starting new batches (cf watch, when inputs change mid-build): batches not yet started end as
   * cancelled and run in the next build; running ones go on unless cancelled one by one (`cancel`).
   */
  drain?: AbortSignal;
  now?: () => Date;
}

/** Slots go to lower batch numbers first, then earlier phases: a batch's chain finishes before the next starts. */
export function slotPriority(phase: PhaseConfig, batch: number): number {
  return batch * 1000 + phase.index;
}
