import type { ConnectionOptions } from 'bullmq';
import type { QueueLocation } from '../../config/queueConfig.js';

/*
 * How cf connects to the queue's Redis (through BullMQ's bundled ioredis): the location pipeline.yaml, the
 * command line or CF_QUEUE give, and the password from CF_QUEUE_PASSWORD (never in a URL).
 */

/** BullMQ's connection options for a location. `maxRetriesPerRequest: null`: BullMQ's workers require it (a command waits for a reconnection). */
export function connectionOf(q: QueueLocation, env: NodeJS.ProcessEnv = process.env): ConnectionOptions {
  const password = env.CF_QUEUE_PASSWORD || undefined;
  return {
    host: q.host,
    port: q.port,
    db: q.db,
    maxRetriesPerRequest: null,
    // Reconnect quickly, then every second: a Redis restarted is found again at once.
    retryStrategy: (times: number) => Math.min(1000, 50 * times),
    ...(password ? { password } : {}),
    ...(q.tls ? { tls: {} } : {}),
  };
}

/** Why Redis did not answer, in a line (ioredis's error message, e.g. "connect ECONNREFUSED 127.0.0.1:6379"). */
export function describeRedisError(e: unknown): string {
  return e instanceof Error ? e.message.split('\n')[0]!.trim() || e.name : String(e);
}

/** Something BullMQ made that can tell it is connected (a Queue, a Worker, QueueEvents). */
interface Connectable {
  waitUntilReady(): Promise<unknown>;
  on(event: 'error', listener: (e: Error) => void): unknown;
  off(event: 'error', listener: (e: Error) => void): unknown;
}

/**
 * Waits until `c` is connected, or returns why not: its first connection error (a refused or unknown
 * host fails at once, not after a timeout), or `timeoutMs` without an answer.
 */
export async function reached(c: Connectable, timeoutMs: number): Promise<string | null> {
  let onError!: (e: Error) => void;
  let timer: NodeJS.Timeout | undefined;
  const failed = new Promise<string>((resolve) => {
    onError = (e) => resolve(describeRedisError(e));
    c.on('error', onError);
    timer = setTimeout(() => resolve(`no answer in ${Math.round(timeoutMs / 1000)} s`), timeoutMs);
  });
  try {
    return await Promise.race([c.waitUntilReady().then(() => null, describeRedisError), failed]);
  } finally {
    clearTimeout(timer);
    c.off('error', onError);
  }
}
