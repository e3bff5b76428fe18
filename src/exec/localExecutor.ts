import path from 'node:path';
import type { PhaseConfig } from '../config/pipeline.js';
import { Pool } from '../util/pool.js';
import { checkFiles, checkOutput, protocolEnv, runAgentAttempt, runBatch, writeErrors, type AttemptJob, type CheckResult, type Exclusive } from './attempts.js';
import type { Budget } from './budget.js';
import type { BatchExecutor, ContextSpec, ItemsOutcome, JobEvent, JobOptions, JobOutcome, JobSpec } from './executor.js';
import type { AgentRequest, AgentResult, AgentRunner } from './runners/types.js';
import { attemptSchema } from './schema/runSchema.js';
import { partitionOutput, type Validator, type ValidatorContext } from './validate.js';

export interface LocalExecutorOptions {
  /** The phases of this checkout's pipeline, by name: a job names its phase. */
  phase(name: string): PhaseConfig;
  /** Processes (agents and validators) running at once: -j. */
  jobs: number;
  runnerFor(phase: PhaseConfig): AgentRunner;
  validatorFor(phase: PhaseConfig): Validator | null;
  /** --max-cost: every attempt reserves its expected cost first, and settles what it cost. */
  budget?: Budget;
}

/** The validator's view of a job's vocabulary: the words taught before each item, from the job's data. */
function validatorContext(c: ContextSpec | undefined): ValidatorContext | undefined {
  const v = c?.vocabulary;
  if (!v) return undefined;
  return {
    vocabularyBefore: (id) => {
      const words = new Set(v.before);
      const at = v.positions[id] ?? 0;
      for (const [position, ws] of v.taught) if (position < at) for (const w of ws) words.add(w);
      return words;
    },
  };
}

/**
 * A runner whose runs go through `run` (a budget, a queue worker's shared limits), saying of itself what
 * `inner` says: how its answer is delivered (file, reply, or a tool the prompt must name), whether it takes a
 * -j slot, whether it is priced, its cost estimate. One place, so that no wrapper drops one of them.
 */
export function withRun(inner: AgentRunner, run: AgentRunner['run']): AgentRunner {
  return {
    delivery: inner.delivery,
    ...(inner.answerTool !== undefined ? { answerTool: inner.answerTool } : {}),
    ...(inner.pooled !== undefined ? { pooled: inner.pooled } : {}),
    ...(inner.priced !== undefined ? { priced: inner.priced } : {}),
    ...(inner.estimateCost ? { estimateCost: (req: AgentRequest) => inner.estimateCost!(req) } : {}),
    run,
  };
}

/**
 * Runs jobs on this machine: the attempt loop (exec/attempts.ts) with the phase's runner and validator,
 * every process in one of -j slots (lower batches first), every attempt within the budget.
 */
export class LocalExecutor implements BatchExecutor {
  private readonly pool: Pool;
  private readonly runners = new Map<string, AgentRunner>();

  constructor(private readonly o: LocalExecutorOptions) {
    this.pool = new Pool(Math.max(1, o.jobs));
  }

  /** The phase's runner, with the budget in front of every attempt. */
  private runner(phase: PhaseConfig): AgentRunner {
    let r = this.runners.get(phase.name);
    if (r) return r;
    const inner = this.o.runnerFor(phase);
    const budget = this.o.budget;
    r = !budget
      ? inner
      : withRun(inner, async (req) => {
          const reservation = await budget.reserve(phase.name, inner.estimateCost?.(req) ?? null);
          if ('stop' in reservation) return { ok: false, failure: { kind: 'budget', stop: reservation.stop } };
          let result: AgentResult | undefined;
          try {
            result = await inner.run(req);
            return result;
          } finally {
            budget.settle(reservation.id, result?.usage?.costUsd ?? null);
          }
        });
    this.runners.set(phase.name, r);
    return r;
  }

  async execute<S extends JobSpec>(spec: S, o: JobOptions): Promise<JobOutcome<S>> {
    const phase = this.o.phase(spec.phase);
    // A check runs no agent: no runner is made for it (an API runner needs its key only to run).
    const own = spec.kind === 'check' ? null : this.runner(phase);
    const around = o.around;
    const runner: AgentRunner | null = own && around ? withRun(own, (req) => around(phase.name, own.estimateCost?.(req) ?? null, () => own.run(req))) : own;
    const emit = (e: JobEvent): void => o.onEvent?.(e);
    // A process of the job in a -j slot (runners that only wait, such as a Message Batch, take none).
    const slot: Exclusive = (what, run) =>
      runner?.pooled === false
        ? run()
        : this.pool.run(spec.priority, async () => {
            emit({ kind: 'process', what, state: 'start' });
            try {
              return await run();
            } finally {
              emit({ kind: 'process', what, state: 'end' });
            }
          });
    if (spec.kind === 'check') return (await this.check(spec, phase, validatorContext(spec.context), o.signal, slot)) as JobOutcome<S>;
    const context = validatorContext(spec.context);
    const job: AttemptJob = {
      target: spec.target,
      phase,
      batch: spec.batch,
      batchCount: spec.batchCount,
      idField: spec.idField,
      intelligence: spec.intelligence,
      inputItems: spec.inputItems,
      inputIds: spec.inputIds,
      runner: runner!,
      runDir: spec.runDir,
      signal: o.signal,
      ...(spec.context ? { context: { prompt: spec.context.prompt, validator: context ?? { vocabularyBefore: () => new Set() } } } : {}),
      onAttempt: (attempt) => emit({ kind: 'attempt', attempt, of: phase.attempts }),
      onAttemptDone: (attempt, usage, dir) => emit({ kind: 'attempt-done', attempt, usage, dir }),
    };
    switch (spec.kind) {
      case 'batch':
        return (await runBatch({
          ...job,
          validator: this.o.validatorFor(phase),
          exclusive: slot,
          onRetry: (attempt, errors) => emit({ kind: 'retried', attempt, of: phase.attempts, errors }),
        })) as JobOutcome<S>;
      case 'items':
        return (await this.items(job, spec.attempt, spec.previousErrors, slot)) as JobOutcome<S>;
    }
  }

  /** One agent run over the items, its answer checked item by item (the built-in checks). */
  private items(job: AttemptJob, attempt: number, previous: Parameters<typeof runAgentAttempt>[2], slot: Exclusive): Promise<ItemsOutcome> {
    // The whole run holds its slot: preparing its files too (a run serves several batches at once).
    return slot('agent', async (): Promise<ItemsOutcome> => {
      if (job.signal.aborted) return { kind: 'cancelled' };
      const run = await runAgentAttempt(job, attempt, previous);
      switch (run.kind) {
        case 'cancelled':
        case 'stopped':
          return run;
        case 'failed': {
          await writeErrors(run.files, [run.error]);
          const failed = Object.fromEntries(job.inputIds.map((id) => [id, [{ source: run.error.source, message: run.error.message }]]));
          return { kind: 'ran', items: {}, failed, fatal: run.fatal, usage: run.usage };
        }
        case 'answered': {
          const p = partitionOutput(run.text, job.inputIds, job.idField);
          const failed = Object.fromEntries([...p.failed].map(([id, es]) => [id, es.map((e) => ({ source: 'output' as const, ...e }))]));
          await writeErrors(run.files, [...new Map(Object.values(failed).flat().map((e) => [e.message, e])).values()]);
          return { kind: 'ran', items: Object.fromEntries(p.items), failed, fatal: false, usage: run.usage };
        }
      }
    });
  }

  /** An output no agent wrote now, through the built-in checks and the phase's validator (with its files). */
  private async check(
    spec: Extract<JobSpec, { kind: 'check' }>,
    phase: PhaseConfig,
    context: ValidatorContext | undefined,
    signal: AbortSignal,
    slot: Exclusive,
  ): Promise<CheckResult> {
    const output = JSON.stringify(spec.output);
    const files = await checkFiles(spec.runDir, spec.note, spec.inputItems, output, attemptSchema(phase, spec.inputIds, spec.idField));
    const checked = await checkOutput({
      text: output,
      inputItems: spec.inputItems,
      inputIds: spec.inputIds,
      idField: spec.idField,
      validator: this.o.validatorFor(phase),
      env: protocolEnv({ phase: phase.name, batch: spec.batch, batchCount: spec.batchCount, attempt: 0, target: spec.target }, files),
      files,
      signal,
      exclusive: slot,
      ...(context ? { context } : {}),
    });
    if (checked.kind === 'invalid') await writeErrors(files, checked.errors);
    return checked;
  }
}

/** Where a job's files go: a batch's run directory, or a directory in it for a check (`edit`, `adopt`, `assembled`). */
export function checkDir(runDir: string | null, name: string): string | null {
  return runDir && path.join(runDir, name);
}
