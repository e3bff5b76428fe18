import type { UserError } from '../util/errors.js';
import { err, ok, type Result } from '../util/result.js';

/*
 * pipeline.yaml's `queue:` key (also --queue URL, or CF_QUEUE=URL): the Redis server a coordinator
 * (`cf build --queue`) and its workers (`cf worker --queue`) share, through BullMQ. Not part of any key:
 * where a batch runs changes nothing it is made from. A password never goes in the URL (it would show in
 * `ps`, shell histories and a committed pipeline.yaml): it comes from CF_QUEUE_PASSWORD.
 */

export interface QueueLocation {
  /** As written, without credentials (for messages). */
  url: string;
  host: string;
  port: number;
  /** The Redis database number (redis://host:port/2), default 0. */
  db: number;
  tls: boolean;
}

export const QUEUE_FORMS = 'redis://HOST:PORT (or rediss:// for TLS; /N for a database number)';

/** A queue URL read, or what is wrong with it. */
export function parseQueueUrl(text: string): Result<QueueLocation, string> {
  let u: URL;
  try {
    u = new URL(text.trim());
  } catch {
    return err(`"${text}" is not a URL; expected ${QUEUE_FORMS}`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') return err(`"${text}" is not a Redis URL; expected ${QUEUE_FORMS}`);
  if (u.username || u.password) return err('a queue URL holds no user or password (it would show in ps and in logs): set CF_QUEUE_PASSWORD instead');
  if (!u.hostname) return err(`"${text}" names no host; expected ${QUEUE_FORMS}`);
  const db = u.pathname && u.pathname !== '/' ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) return err(`"${u.pathname}" is not a database number (redis://HOST:PORT/N)`);
  const port = u.port ? Number(u.port) : 6379;
  return ok({ url: `${u.protocol}//${u.host}${db ? `/${db}` : ''}`, host: u.hostname.replace(/^\[|\]$/g, ''), port, db, tls: u.protocol === 'rediss:' });
}

/**
 * The queue a command uses: the command line's, else CF_QUEUE, else pipeline.yaml's (null: none, the build
 * runs on this machine). CF_QUEUE=off, like --no-queue, means none.
 */
export function queueLocation(
  override: string | false | null,
  fromPipeline: string | null,
  env: NodeJS.ProcessEnv = process.env,
  file = 'pipeline.yaml',
): Result<QueueLocation | null, UserError> {
  if (override === false) return ok(null);
  const envUrl = env.CF_QUEUE?.trim() || null;
  if (override === null && envUrl === 'off') return ok(null);
  const given = override !== null ? { url: override, from: '--queue' } : envUrl ? { url: envUrl, from: 'CF_QUEUE' } : fromPipeline ? { url: fromPipeline, from: `${file}: queue` } : null;
  if (!given) return ok(null);
  const loc = parseQueueUrl(given.url);
  return loc.ok ? ok(loc.value) : err({ kind: 'usage', message: `${given.from}: ${loc.error}`, hint: `a queue is ${QUEUE_FORMS}` });
}
