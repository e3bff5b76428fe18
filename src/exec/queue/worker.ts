import { DelayedError, WaitingError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import type { AgentResult } from '../runners/types.js';
import type { BatchExecutor, JobEvent, JobSpec } from '../executor.js';
import { probe } from './connection.js';
import { partsDifference, QUEUE_NAME, type CheckoutParts, type JobProgress, type JobReturn, type QueuedJob } from './jobs.js';
import type { OutputBlobs } from './outputBlobs.js';
import { SharedBudget } from './sharedBudget.js';
import { SharedLimits } from './sharedLimits.js';

/*
 * A worker (`cf worker --queue URL -j N`): takes jobs from the queue, at most N at once, and runs each with
 * its own checkout's runners and validators (the attempt loop: agent, validation, retries with the errors),
 * after checking that its checkout makes what the coordinator's makes (the phase's runner, validator, deps
 * and schema hash the same). It records nothing: the outcome goes back as the job's return value (a valid
 * output into the shared cache, when the coordinator reads one), and the coordinator records it.
 *
 * BullMQ holds a lock on each job while it runs, renewed every lockMs/2; a worker that dies (kill -9, a
 * machine lost) stops renewing it, and another worker's stalled-job check gives the job to a worker again.
 * Whatever the dead worker's attempt did is never recorded (only a returned outcome is).
 */

export interface QueueWorkerOptions {
  connection: ConnectionOptions;
  /** host:pid (or --name): how the coordinator and the logs name this worker. */
  name: string;
  /** Jobs at once (-j). */
  concurrency: number;
  /** This checkout's executor: its runners and validators, processes in -j slots. */
  executor: BatchExecutor;
  /** This checkout's hashes of a phase's runner, validator, deps and schema (null: no such phase here). */
  parts(phase: string): Promise<CheckoutParts | null>;
  /** A job's run directory in this checkout (the job gives it relative to the pipeline directory, or none). */
  runDir(spec: JobSpec): string | null;
  /** This checkout's shared cache (null: none). */
  blobs: OutputBlobs | null;
  /** How long a job's lock holds without renewal: how soon a dead worker's job goes to another (default 30 s; CF_QUEUE_LOCK_MS). */
  lockMs?: number;
  /** How often a job may be found stalled (its worker gone) before the queue gives up on it (default 3). */
  maxStalled?: number;
  /** The window of the limits' per-minute rates (default 60 s: a test shortens it). */
  limitWindowMs?: number;
  /** What the worker does, as it does it. */
  log?(e: WorkerLog): void;
}

export type WorkerLog =
  | { kind: 'ready'; concurrency: number }
  | { kind: 'started'; target: string; coordinator: string }
  | { kind: 'done'; target: string; outcome: string; ms: number }
  | { kind: 'refused'; target: string; reason: string }
  | { kind: 'released'; target: string }
  | { kind: 'error'; message: string };

/** A refused job waits this long before a worker looks at it again (another worker, usually). */
const REFUSED_DELAY_MS = 500;

export class QueueWorker {
  private worker: Worker<QueuedJob, JobReturn> | null = null;
  /** The running jobs' own stops (a second SIGTERM releases them). */
  private readonly running = new Map<string, AbortController>();
  private readonly refused = new Set<string>();
  private readonly limits: SharedLimits;
  private readonly budget: SharedBudget;
  private releasing = false;

  constructor(private readonly o: QueueWorkerOptions) {
    const client = () => this.worker!.client;
    this.limits = new SharedLimits(client, o.limitWindowMs !== undefined ? { windowMs: o.limitWindowMs } : {});
    this.budget = new SharedBudget(client);
  }

  /** Connects and starts taking jobs; or says why Redis cannot be reached (then nothing stays connected). */
  async start(): Promise<string | null> {
    const why = await probe(this.o.connection);
    if (why) return why;
    const lockDuration = this.o.lockMs ?? (Number(process.env.CF_QUEUE_LOCK_MS) || 30_000);
    const worker = new Worker<QueuedJob, JobReturn>(QUEUE_NAME, (job, token) => this.process(job, token), {
      connection: this.o.connection,
      name: this.o.name,
      concurrency: Math.max(1, this.o.concurrency),
      autorun: false,
      lockDuration,
      stalledInterval: lockDuration,
      maxStalledCount: this.o.maxStalled ?? 3,
      // Jobs are removed by their coordinator once recorded; a worker keeps nothing.
      removeOnComplete: { age: 7 * 86_400 },
      removeOnFail: { age: 7 * 86_400 },
    });
    this.worker = worker;
    worker.on('error', (e) => this.o.log?.({ kind: 'error', message: e.message }));
    void worker.run().catch((e: unknown) => this.o.log?.({ kind: 'error', message: (e as Error).message }));
    await worker.waitUntilReady();
    this.o.log?.({ kind: 'ready', concurrency: this.o.concurrency });
    return null;
  }

  private async process(job: Job<QueuedJob, JobReturn>, token: string | undefined): Promise<JobReturn> {
    const data = job.data;
    const spec: JobSpec = { ...data.spec, runDir: this.o.runDir(data.spec) };
    const id = job.id!;
    // A checkout that would make other outputs refuses, once told; the job waits a moment for another worker.
    const ours = await this.o.parts(spec.phase);
    const why = ours ? partsDifference(data.runner.name, data.parts, ours) : `this checkout's pipeline has no phase ${spec.phase}`;
    if (why) {
      if (!this.refused.has(id)) {
        this.refused.add(id);
        this.o.log?.({ kind: 'refused', target: spec.target, reason: why });
        await job.updateProgress({ kind: 'refused', worker: this.o.name, reason: why });
      }
      await job.moveToDelayed(Date.now() + REFUSED_DELAY_MS, token);
      throw new DelayedError();
    }
    const stop = new AbortController();
    this.running.set(id, stop);
    const started = Date.now();
    this.o.log?.({ kind: 'started', target: spec.target, coordinator: data.coordinator });
    // Progress reaches the coordinator in order (one connection); the last is sent before the result. Each
    // carries the attempt running (the job's progress is its last event: cf status reads it from there).
    let told = Promise.resolve();
    let current: JobProgress['current'];
    const tell = (e: JobEvent): void => {
      if (e.kind === 'attempt') current = { attempt: e.attempt, of: e.of };
      const progress: JobProgress = { ...e, worker: this.o.name, ...(current ? { current } : {}) };
      const sent = job.updateProgress(progress);
      told = told.then(() => sent).catch(() => undefined);
    };
    try {
      const outcome = await this.o.executor.execute(spec, {
        signal: stop.signal,
        onEvent: tell,
        around: (phase, estimate, run) => this.shared(data, phase, estimate, stop.signal, run),
      });
      await told;
      if (outcome.kind === 'cancelled') {
        // Released (a second SIGTERM): back to the queue for another worker; nothing of it is kept.
        this.o.log?.({ kind: 'released', target: spec.target });
        await job.moveToWait(token);
        throw new WaitingError();
      }
      this.o.log?.({ kind: 'done', target: spec.target, outcome: outcome.kind, ms: Date.now() - started });
      if (outcome.kind === 'valid' && 'attempts' in outcome && this.o.blobs && this.o.blobs.where === data.blobs) {
        const blob = await this.o.blobs.put(outcome.items);
        return { v: 1, worker: this.o.name, outcome: { ...outcome, items: [] }, blob };
      }
      return { v: 1, worker: this.o.name, outcome };
    } catch (e) {
      // Not an outcome (the job's own failures are): the queue fails the job, and its coordinator says why.
      if (!(e instanceof WaitingError)) this.o.log?.({ kind: 'error', message: `${spec.target}: ${(e as Error).message}` });
      throw e;
    } finally {
      this.running.delete(id);
    }
  }

  /** Around each agent run: the runner's limits and the build's budget, shared with every other worker. */
  private async shared(job: QueuedJob, phase: string, estimate: number | null, signal: AbortSignal, run: () => Promise<AgentResult>): Promise<AgentResult> {
    let settle: ((usd: number | null) => Promise<void>) | null = null;
    if (job.budget) {
      const r = await this.budget.reserve(job.budget.key, phase, estimate, signal);
      if ('stop' in r) return { ok: false, failure: { kind: 'budget', stop: r.stop } };
      settle = r.settle;
    }
    let result: AgentResult | undefined;
    try {
      const ticket = await this.limits.acquire(job.runner.name, job.runner.limits, signal).catch((e: unknown) => {
        if (signal.aborted) return 'cancelled' as const;
        throw e;
      });
      if (ticket === 'cancelled') return (result = { ok: false, failure: { kind: 'cancelled' } });
      try {
        result = await run();
        return result;
      } finally {
        const u = result?.usage;
        await ticket?.release(u ? u.inputTokens + u.cacheWriteTokens + u.cacheReadTokens + u.outputTokens : 0);
      }
    } finally {
      await settle?.(result?.usage?.costUsd ?? null);
    }
  }

  get name(): string {
    return this.o.name;
  }

  /** Jobs running now. */
  get busy(): number {
    return this.running.size;
  }

  /**
   * Stops taking jobs. `release`: the running jobs' agents are stopped (their process trees killed) and the
   * jobs go back to the queue for another worker; otherwise they finish first. Resolves once the worker is closed.
   * `force`: without waiting for the running jobs (a Redis that does not answer).
   * `force`: without waiting for the running jobs (a Redis that does not answer).
   */
  async stop(release: boolean, o: { force?: boolean } = {}): Promise<void> {
    if (release && !this.releasing) {
      this.releasing = true;
      for (const c of this.running.values()) c.abort();
    }
    // A worker that never connected has nothing to close (closing a connection still trying would throw).
    // force: Redis is gone; nothing can be given back: the connections are dropped (the jobs' locks expire).
    if (o.force && this.worker) (await this.worker.client).disconnect();
    await this.worker?.close(o.force);
  }
}
