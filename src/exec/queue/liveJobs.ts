import { Queue, type ConnectionOptions } from 'bullmq';
import { describeRedisError } from './connection.js';
import { QUEUE_NAME, type JobProgress } from './jobs.js';

/*
 * What the queue holds now, for `cf status`: which batch runs on which worker (and at which attempt, for how
 * long), and how many wait for one. One connection that does not retry, closed at once: a status never waits
 * on a Redis that is gone (it says so, and shows the checkout's own records).
 *
 * Only the job's fields status shows are read (name, progress, processedOn, processedBy: BullMQ's job hash),
 * not the jobs themselves: a job's data is its batch's input and intelligence, and hundreds of them run at
 * once on fifty machines.
 */

export interface LiveJob {
  /** The batch (`phase#k`, or a run of items `phase#3+7`): the job's name. */
  target: string;
  /** The worker that took it (its --name, or host:pid). */
  worker: string | null;
  /** The attempt its agent runs, of how many (null: none started yet, e.g. waiting for a limit). */
  attempt: number | null;
  attempts: number | null;
  /** When the worker took it (ms since the epoch, the worker's clock). */
  since: number | null;
}

export interface QueueState {
  /** The jobs workers run now, in pipeline order. */
  running: LiveJob[];
  /** Jobs no worker has taken yet (waiting, or put off a moment after a refusal). */
  waiting: number;
}

/** How long status waits for Redis to connect or answer before it says it could not reach it. */
const TIMEOUT_MS = 3000;

const phaseOf = (target: string): string => target.split('#')[0]!;
const batchOf = (target: string): number => Number.parseInt(target.slice(target.indexOf('#') + 1), 10) || 0;

/**
 * The jobs of `phases` (this pipeline's, in order) in the queue; or why Redis could not be asked. The queue
 * is a Redis database's (a database per project): jobs of phases this pipeline does not have are left out.
 */
export async function liveJobs(connection: ConnectionOptions, phases: readonly string[], timeoutMs = TIMEOUT_MS): Promise<{ ok: QueueState } | { unreachable: string }> {
  const queue = new Queue(QUEUE_NAME, {
    connection: { ...(connection as object), retryStrategy: () => null, connectTimeout: timeoutMs, commandTimeout: timeoutMs, disconnectTimeout: 50 } as ConnectionOptions,
  });
  let first: string | null = null;
  queue.on('error', (e) => (first ??= describeRedisError(e)));
  try {
    await queue.waitUntilReady();
    // All of them (getRanges gives the first two unless told otherwise).
    const [active, waiting] = await Promise.all([queue.getRanges(['active'], 0, -1), queue.getRanges(['waiting', 'prioritized', 'delayed'], 0, -1)]);
    const client = await queue.client;
    // Sent at once on the one connection (its replies come back in order): one round trip, not one a job.
    const [fields, names] = await Promise.all([
      Promise.all(active.map((id) => client.hmget(queue.toKey(id), 'name', 'progress', 'processedOn', 'pb'))),
      Promise.all(waiting.map((id) => client.hget(queue.toKey(id), 'name'))),
    ]);
    const ours = new Set(phases);
    const order = (t: string): number => phases.indexOf(phaseOf(t));
    const running = fields
      .map(([name, progress, processedOn, pb]) => runningJob(name ?? '', progress ?? null, processedOn ?? null, pb ?? null))
      .filter((j) => ours.has(phaseOf(j.target)))
      .sort((a, b) => order(a.target) - order(b.target) || batchOf(a.target) - batchOf(b.target));
    return { ok: { running, waiting: names.filter((n) => n !== null && ours.has(phaseOf(n))).length } };
  } catch (e) {
    return { unreachable: first ?? describeRedisError(e) };
  } finally {
    // A connection that failed is closed without a word (its error was said above).
    await queue.close().catch(() => undefined);
  }
}

function runningJob(target: string, progressText: string | null, processedOn: string | null, pb: string | null): LiveJob {
  let progress: Partial<JobProgress> | null = null;
  try {
    const p: unknown = progressText ? JSON.parse(progressText) : null;
    if (p && typeof p === 'object') progress = p as Partial<JobProgress>;
  } catch {
    // Not cf's progress (another cf version): the worker and the time still say something.
  }
  const worker = pb ?? (typeof progress?.worker === 'string' ? progress.worker : null);
  // The progress of a worker that had the job before (and gave it back) says nothing of this one's attempt.
  const current = progress?.worker === worker ? progress?.current : undefined;
  const since = processedOn ? Number(processedOn) : NaN;
  return { target, worker, attempt: current?.attempt ?? null, attempts: current?.of ?? null, since: Number.isFinite(since) ? since : null };
}
