import { Job, Queue, QueueEvents, type ConnectionOptions } from 'bullmq';
import type { QueueLocation } from '../../config/queueConfig.js';
import type { Item } from '../../config/seeds.js';
import type { BuildEvent } from '../../events/types.js';
import type { AttemptUsage, BatchOutcome } from '../attempts.js';
import type { BatchExecutor, ItemsOutcome, JobEvent, JobOptions, JobOutcome, JobSpec } from '../executor.js';
import type { Limits } from '../runners/limits.js';
import { describeRedisError, probe } from './connection.js';
import { jobIdOf, QUEUE_NAME, type CheckoutParts, type JobProgress, type JobReturn, type QueuedJob } from './jobs.js';
import type { OutputBlobs } from './outputBlobs.js';

/*
 * The coordinator's executor (`cf build --queue`): the engine plans, decides and records as it always does;
 * each job it would run here is enqueued instead (BullMQ, job id = the batch's key, earlier phases first)
 * and its outcome taken from the worker that ran it. A check (no agent: a validator over an output cf
 * already has) runs here. Nothing is recorded by a worker: the engine records what this executor returns,
 * once, after checking it; so a worker that dies mid-job leaves nothing behind but a job BullMQ gives to
 * another worker once its lock expires.
 */

export interface QueueExecutorOptions {
  location: QueueLocation;
  connection: ConnectionOptions;
  /** Runs the checks (and nothing else) on this machine. */
  local: BatchExecutor;
  /** The phase's runner, validator, deps and schema hashes in this checkout (a worker must have the same). */
  parts(phase: string): CheckoutParts;
  runner(phase: string): { name: string; limits: Limits };
  /** The phase's place in the pipeline: the job's priority (earlier phases first). */
  phaseIndex(phase: string): number;
  /** A job's run directory as workers see it: relative to the pipeline directory. */
  relativeRunDir(dir: string | null): string | null;
  /** The shared cache workers store outputs in (null: outputs come back in the results). */
  blobs: OutputBlobs | null;
  /** --max-cost, shared by the workers through Redis (null: no budget). */
  budget: { key: string; maxUsd: number } | null;
  /** host:pid, for the workers' messages. */
  coordinator: string;
  emit(e: BuildEvent): void;
  /** How long Redis may stop answering before the build gives up on it (default 10 s; CF_QUEUE_DOWN_MS). */
  downAfterMs?: number;
  /** How long a result nobody took stays in Redis (default 7 days). */
  keepSeconds?: number;
}

type Settled = { kind: 'returned'; ret: JobReturn } | { kind: 'lost'; reason: string } | { kind: 'cancelled' };

interface Waiter {
  onEvent: ((e: JobEvent) => void) | undefined;
  settle(s: Settled): void;
}

const CONNECT_MS = 5000;

export class QueueExecutor implements BatchExecutor {
  private readonly waiters = new Map<string, Waiter[]>();
  /** Jobs whose results were taken: removed from Redis once the build has recorded them (finish()). */
  private readonly taken = new Set<string>();
  private down: string | null = null;
  private lastError = 'no answer';
  private lastAnswer = Date.now();
  private readonly health: NodeJS.Timeout;
  /** Jobs found already in the queue (a coordinator restarted, or a second one): taken, not enqueued again. */
  attached = 0;

  private constructor(
    private readonly o: QueueExecutorOptions,
    private readonly queue: Queue,
    private readonly events: QueueEvents,
  ) {
    queue.on('error', (e) => (this.lastError = describeRedisError(e)));
    events.on('error', (e) => (this.lastError = describeRedisError(e)));
    events.on('completed', ({ jobId, returnvalue }) => this.settle(jobId, { kind: 'returned', ret: returnvalue as unknown as JobReturn }));
    events.on('failed', ({ jobId, failedReason }) => this.settle(jobId, { kind: 'lost', reason: `the queue gave up on it: ${failedReason}` }));
    events.on('progress', ({ jobId, data }) => {
      const { worker, current: _current, ...e } = data as JobProgress;
      const event = (e.kind === 'attempt' || e.kind === 'refused' ? { ...e, worker } : e) as unknown as JobEvent;
      for (const w of this.waiters.get(jobId) ?? []) w.onEvent?.(event);
    });
    // Redis is asked every second; once it has not answered for downAfterMs, the build stops waiting on it.
    const downAfter = o.downAfterMs ?? (Number(process.env.CF_QUEUE_DOWN_MS) || 10_000);
    let asking = false;
    this.health = setInterval(() => {
      if (Date.now() - this.lastAnswer > downAfter) return this.giveUp(this.lastError);
      if (asking) return;
      asking = true;
      void queue.client
        .then((c) => c.get('cf:health'))
        .then(() => (this.lastAnswer = Date.now()))
        .catch((e: unknown) => (this.lastError = describeRedisError(e)))
        .finally(() => (asking = false));
    }, Math.min(1000, downAfter / 4));
    this.health.unref();
  }

  /** Its Redis connection (for the shared budget's scripts). */
  client(): Queue['client'] {
    return this.queue.client;
  }

  /** Connects to the queue; or says why it cannot (Redis down, refused, unknown host). */
  static async open(o: QueueExecutorOptions): Promise<{ ok: QueueExecutor } | { unreachable: string }> {
    const why = await probe(o.connection, CONNECT_MS);
    if (why) return { unreachable: why };
    const queue = new Queue(QUEUE_NAME, { connection: o.connection });
    const events = new QueueEvents(QUEUE_NAME, { connection: o.connection });
    // Until the executor listens, a connection error is not an unhandled 'error' event.
    const ignore = (): void => undefined;
    queue.on('error', ignore);
    events.on('error', ignore);
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
    const workers = await queue.getWorkers();
    // BullMQ names a worker's connection bull:<queue, base64>:w:<name>.
    const names = workers.map((w) => /:w:(.*)$/.exec(w.rawname ?? w.name ?? '')?.[1] ?? '').filter(Boolean);
    o.emit({ event: 'queue', queue: o.location.url, workers: [...new Set(names)].sort() });
    return { ok: new QueueExecutor(o, queue, events) };
  }

  private giveUp(reason: string): void {
    if (this.down) return;
    this.down = reason;
    this.o.emit({ event: 'queue', queue: this.o.location.url, down: reason });
    for (const id of [...this.waiters.keys()]) this.settle(id, { kind: 'cancelled' });
  }

  private settle(id: string, s: Settled): void {
    const ws = this.waiters.get(id);
    if (!ws) return;
    this.waiters.delete(id);
    if (s.kind === 'returned') this.taken.add(id);
    for (const w of ws) w.settle(s);
  }

  async execute<S extends JobSpec>(spec: S, o: JobOptions): Promise<JobOutcome<S>> {
    if (spec.kind === 'check') return this.o.local.execute(spec, o);
    if (this.down || o.signal.aborted) return { kind: 'cancelled' } as JobOutcome<S>;
    const parts = this.o.parts(spec.phase);
    const id = jobIdOf(spec, parts);
    const settled = await new Promise<Settled>((resolve) => {
      let done = false;
      const onAbort = (): void => {
        void this.withdraw(id);
        waiter.settle({ kind: 'cancelled' });
      };
      const waiter: Waiter = {
        onEvent: o.onEvent,
        settle: (s) => {
          if (done) return;
          done = true;
          o.signal.removeEventListener('abort', onAbort);
          const rest = (this.waiters.get(id) ?? []).filter((w) => w !== waiter);
          if (rest.length) this.waiters.set(id, rest);
          else this.waiters.delete(id);
          resolve(s);
        },
      };
      // Listening before asking: a job that completes meanwhile is heard, or found completed.
      this.waiters.set(id, [...(this.waiters.get(id) ?? []), waiter]);
      o.signal.addEventListener('abort', onAbort, { once: true });
      this.submit(id, spec, parts).then(
        (found) => found && this.settle(id, found),
        (e: unknown) => this.settle(id, this.down ? { kind: 'cancelled' } : { kind: 'lost', reason: `the queue refused it: ${describeRedisError(e)}` }),
      );
    });
    return this.outcomeOf(spec, settled);
  }

  /** Enqueues the job, unless it is there already: then its result when it has one (null: wait for it). */
  private async submit(id: string, spec: JobSpec, parts: CheckoutParts): Promise<Settled | null> {
    const known = await Job.fromId<QueuedJob, JobReturn>(this.queue, id);
    if (known) {
      const state = await known.getState();
      if (state === 'completed') {
        this.attached++;
        return { kind: 'returned', ret: known.returnvalue };
      }
      // Given up on before (stalled too often): enqueued again.
      if (state === 'failed' || state === 'unknown') await known.remove().catch(() => undefined);
      else {
        this.attached++;
        return null;
      }
    }
    const job: QueuedJob = {
      v: 1,
      spec: { ...spec, runDir: this.o.relativeRunDir(spec.runDir) },
      parts,
      runner: this.o.runner(spec.phase),
      budget: this.o.budget,
      blobs: this.o.blobs?.where ?? null,
      coordinator: this.o.coordinator,
    };
    const keep = this.o.keepSeconds ?? 7 * 86_400;
    await this.queue.add(spec.target, job, { jobId: id, priority: this.o.phaseIndex(spec.phase) + 1, removeOnComplete: { age: keep }, removeOnFail: { age: keep } });
    return null;
  }

  /** Ctrl-C: a job no worker took yet leaves the queue; one running goes on, and a later build takes its result. */
  private async withdraw(id: string): Promise<void> {
    if (this.down) return;
    const job = await Job.fromId(this.queue, id).catch(() => undefined);
    const state = await job?.getState().catch(() => 'unknown');
    if (job && state !== 'active' && state !== 'completed') await job.remove().catch(() => undefined);
  }

  /** The job's outcome as the engine takes it: a valid output checked (its stored text against its hash, its ids against the job's). */
  private async outcomeOf<S extends JobSpec>(spec: S, s: Settled): Promise<JobOutcome<S>> {
    if (s.kind === 'cancelled') return { kind: 'cancelled' } as JobOutcome<S>;
    if (s.kind === 'lost') return lost(spec, s.reason) as JobOutcome<S>;
    const { ret } = s;
    if (!ret || ret.v !== 1) return lost(spec, 'the worker that ran it is of another cf version') as JobOutcome<S>;
    if (spec.kind !== 'batch' || ret.outcome.kind !== 'valid') return ret.outcome as JobOutcome<S>;
    const outcome = ret.outcome as Extract<BatchOutcome, { kind: 'valid' }>;
    let items: Item[] = outcome.items;
    if (ret.blob) {
      if (!this.o.blobs) return lost(spec, `${ret.worker} stored its output in a shared cache this build does not read`, outcome.usage) as JobOutcome<S>;
      const got = await this.o.blobs.get(ret.blob);
      if ('problem' in got) return lost(spec, `${ret.worker} ran it, but ${got.problem}`, outcome.usage) as JobOutcome<S>;
      items = got.items;
    }
    const ids = items.map((it) => String((it as Record<string, unknown>)[spec.idField]));
    if (ids.length !== spec.inputIds.length || ids.some((id, i) => id !== spec.inputIds[i])) {
      return lost(spec, `${ret.worker} returned an output whose ids are not the job's`, outcome.usage) as JobOutcome<S>;
    }
    return { ...outcome, items } as JobOutcome<S>;
  }

  /**
   * After the build recorded what it took: those jobs leave Redis (a later build of the same key, after a
   * cf clean, runs it again as a local build would). Then the connections close.
   */
  async finish(): Promise<void> {
    clearInterval(this.health);
    if (!this.down) {
      const ids = [...this.taken];
      for (let i = 0; i < ids.length; i += 500) await Promise.all(ids.slice(i, i + 500).map((id) => this.queue.remove(id).catch(() => 0)));
    }
    const closed = Promise.allSettled([this.events.close(), this.queue.close()]);
    // A Redis that does not answer would hold a polite close forever: the connections are dropped instead.
    if (this.down) for (const x of [this.events, this.queue]) (await x.client).disconnect();
    else await closed;
  }
}

/** A job the queue lost (stalled too often), or whose result could not be taken: a failure with the reason, nothing recorded as built. */
function lost(spec: JobSpec, message: string, usage: AttemptUsage[] = []): BatchOutcome | ItemsOutcome {
  if (spec.kind === 'items') {
    return { kind: 'ran', items: {}, failed: Object.fromEntries(spec.inputIds.map((id) => [id, [{ source: 'agent' as const, message }]])), fatal: false, usage: null };
  }
  return { kind: 'failed', attempts: usage.length, errors: [{ attempt: usage.length, source: 'agent', message }], usage };
}
