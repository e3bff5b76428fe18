import { Queue, type ConnectionOptions } from 'bullmq';
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

/**
 * Whether Redis answers, before anything of the build or the worker connects for good: a connection that
 * does not retry, so that a refused or unknown host, or no answer within `timeoutMs`, is said at once and the
 * probe closes cleanly (a BullMQ connection closed while it still retries emits its error to nobody).
 */
export async function probe(connection: ConnectionOptions, timeoutMs = 5000): Promise<string | null> {
  const q = new Queue('cf-probe', { connection: { ...(connection as object), retryStrategy: () => null, connectTimeout: timeoutMs, disconnectTimeout: 50 } as ConnectionOptions });
  let first: string | null = null;
  q.on('error', (e) => (first ??= describeRedisError(e)));
  const why = await q.waitUntilReady().then(
    () => null,
    (e: unknown) => first ?? describeRedisError(e),
  );
  await q.close().catch(() => undefined);
  return why;
}
