import { setTimeout as sleep } from 'node:timers/promises';
import type { AgentFailure } from './types.js';

/*
 * The API runners' requests, sent and repeated here, not inside the SDK clients (they are made with
 * maxRetries: 0): the clients' own retries were invisible (not counted), could not share a budget with a
 * batch's other attempts (a server failing every time cost 3 attempts × 7 requests), retried a refused
 * connection for a minute, and left an abort listener on the caller's signal per request. p-retry and
 * `retry` (already installed, under proper-lockfile) were considered: both wait their own backoff, so a
 * server's Retry-After could only be waited on top of it; what is left of a retry loop here is the policy
 * itself (what is repeated, for how long, what ends it) and an abortable sleep from node:timers.
 *
 * The policy, per batch (RepeatBudget, made by the attempt loop and shared by the batch's attempts):
 * - a failure no repeat can fix ends the batch at once: a 4xx other than 408/409/429 (unknown model,
 *   auth, invalid request), a refused connection or an unknown host (naming the URL and the runner);
 * - the others (429, 529, 5xx, a reset connection, a timeout) are repeated after the server's Retry-After
 *   or an exponential backoff, while the batch has repeats left (max_retries over all its attempts);
 * - the same failure SAME_FAILURES times in a row ends the batch (a local server that fails on a prompt
 *   fails on it again), except a server asking to wait (429, 503, 529), which only spends the budget.
 * Every repeat is counted (Usage.transportRetries), in a success and in a failure alike.
 */

/** The same failure this many times in a row ends the batch. */
export const SAME_FAILURES = 3;
/** Statuses by which a server asks to wait: repeated while the budget lasts, whatever the streak. */
const WAIT_STATUSES = new Set([429, 503, 529]);

/** A batch's repeated requests: at most `max` over all its attempts, and the streak of identical failures. */
export class RepeatBudget {
  used = 0;
  private last: string | null = null;
  private streak = 0;

  constructor(readonly max: number) {}

  get left(): number {
    return Math.max(0, this.max - this.used);
  }

  /** A failure of `key`: how many times in a row it has now come. */
  failed(key: string): number {
    this.streak = key === this.last ? this.streak + 1 : 1;
    this.last = key;
    return this.streak;
  }

  /** An answer came: the streak is broken. */
  answered(): void {
    this.last = null;
    this.streak = 0;
  }
}

/** What a request is sent with: the batch's budget, the caller's signal, and names for messages. */
export interface SendOptions {
  budget: RepeatBudget;
  signal: AbortSignal;
  /** The runner's name in pipeline.yaml, and the server's base URL: a failure to connect names both. */
  runner: string;
  baseUrl: string;
  /** The SDK's connection error classes (a timeout is one too). */
  errors: { connection: abstract new (...a: never[]) => Error; timeout: abstract new (...a: never[]) => Error };
}

export type Sent<T> = { ok: true; value: T; repeats: number } | { ok: false; failure: Extract<AgentFailure, { kind: 'api' | 'cancelled' }>; repeats: number };

/** The base of the backoff in milliseconds: CF_API_RETRY_MS (tests keep it short), else 500. */
function baseDelay(): number {
  const v = Number(process.env.CF_API_RETRY_MS || Number.NaN);
  return v >= 0 ? v : 500;
}

/** The wait before repeat `n` (0-based) of one request: the server's Retry-After, else base × 2^n (at most 16 × base), less up to a quarter. */
export function retryDelay(headers: Headers | undefined, n: number, base = baseDelay()): number {
  const ms = Number.parseFloat(headers?.get('retry-after-ms') ?? '');
  if (ms > 0 && ms <= 2 ** 31 - 1) return ms;
  const after = headers?.get('retry-after');
  if (after) {
    const s = Number.parseFloat(after);
    const wait = Number.isNaN(s) ? Date.parse(after) - Date.now() : s * 1000;
    if (wait > 0 && wait <= 2 ** 31 - 1) return wait;
  }
  return Math.min(base * 2 ** n, base * 16) * (1 - Math.random() * 0.25);
}

/** An API error's status, when it has one. */
export function statusOf(e: unknown): number | undefined {
  const s = (e as { status?: unknown } | null)?.status;
  return typeof s === 'number' ? s : undefined;
}

/** Errors that no retry can fix: the request itself or the credentials are wrong. */
export function isFatalStatus(status: number | undefined): boolean {
  return status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 409 && status !== 429;
}

/** The system error code (ECONNREFUSED, ECONNRESET, …) under a connection error, when there is one. */
function errorCode(e: unknown, depth = 0): string | undefined {
  if (!e || typeof e !== 'object' || depth > 5) return undefined;
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  for (const inner of (e as { errors?: unknown }).errors instanceof Array ? (e as { errors: unknown[] }).errors : []) {
    const c = errorCode(inner, depth + 1);
    if (c) return c;
  }
  return errorCode((e as { cause?: unknown }).cause, depth + 1);
}

/** How one failed request is judged: ended (fatal), or repeatable with its identity (for the streak) and wait. */
type Verdict = { kind: 'fatal'; message: string } | { kind: 'repeat'; message: string; key: string; wait: boolean; headers?: Headers };

function judge(e: unknown, o: SendOptions): Verdict {
  const status = statusOf(e);
  if (status !== undefined) {
    const raw = e instanceof Error ? e.message : String(e);
    // The SDKs start the message with the status ("500 Internal server error."): said once.
    const message = `HTTP ${status}: ${raw.startsWith(`${status} `) ? raw.slice(String(status).length + 1) : raw}`;
    const headers = (e as { headers?: unknown }).headers;
    const h = headers instanceof Headers ? headers : undefined;
    const told = h?.get('x-should-retry');
    if (told === 'false' || (told !== 'true' && isFatalStatus(status))) return { kind: 'fatal', message };
    return { kind: 'repeat', message, key: message, wait: WAIT_STATUSES.has(status), ...(h ? { headers: h } : {}) };
  }
  if (e instanceof o.errors.timeout) return { kind: 'repeat', message: `no answer from ${o.baseUrl} in time (runner ${o.runner})`, key: 'timeout', wait: false };
  if (e instanceof o.errors.connection) {
    const code = errorCode(e);
    if (code === 'ECONNREFUSED') return { kind: 'fatal', message: `cannot connect to ${o.baseUrl} (runner ${o.runner}): connection refused; is the server running?` };
    if (code === 'ENOTFOUND') return { kind: 'fatal', message: `cannot connect to ${o.baseUrl} (runner ${o.runner}): no such host` };
    const cause = (e as { cause?: unknown }).cause;
    const why = code ?? (cause instanceof Error ? cause.message : e.message);
    return { kind: 'repeat', message: `the connection to ${o.baseUrl} failed (runner ${o.runner}): ${why}`, key: `connection ${why}`, wait: false };
  }
  // Not an answer of the server nor a connection failure: the client refused the request itself.
  return { kind: 'fatal', message: e instanceof Error ? e.message : String(e) };
}

/**
 * Runs `call` until it answers, repeating it as the policy above says. `call` gets a signal of its own,
 * aborted with the caller's: the SDK's listener goes on that one, which ends with the request, so none
 * is left on the caller's long-lived signal.
 */
export async function send<T>(call: (signal: AbortSignal) => Promise<T>, o: SendOptions): Promise<Sent<T>> {
  let repeats = 0;
  const cancelled = (): Sent<T> => ({ ok: false, failure: { kind: 'cancelled' }, repeats });
  for (;;) {
    if (o.signal.aborted) return cancelled();
    const own = new AbortController();
    const abort = (): void => own.abort(o.signal.reason);
    o.signal.addEventListener('abort', abort, { once: true });
    let error: unknown;
    try {
      const value = await call(own.signal);
      o.budget.answered();
      return { ok: true, value, repeats };
    } catch (e) {
      error = e;
    } finally {
      o.signal.removeEventListener('abort', abort);
    }
    if (o.signal.aborted) return cancelled();
    const v = judge(error, o);
    const counted = repeats ? `; ${repeats} request${repeats === 1 ? '' : 's'} repeated` : '';
    if (v.kind === 'fatal') return { ok: false, failure: { kind: 'api', message: `${v.message}${counted ? ` (${counted.slice(2)})` : ''}`, fatal: true }, repeats };
    const streak = o.budget.failed(v.key);
    if (streak >= SAME_FAILURES && !v.wait) {
      return { ok: false, failure: { kind: 'api', message: `${v.message} (the same failure ${streak} times in a row${counted})`, fatal: true }, repeats };
    }
    if (o.budget.left === 0) {
      return { ok: false, failure: { kind: 'api', message: `${v.message} (max_retries ${o.budget.max} spent: the batch repeated ${o.budget.used} request${o.budget.used === 1 ? '' : 's'})`, fatal: true }, repeats };
    }
    try {
      await sleep(retryDelay(v.headers, repeats), undefined, { signal: o.signal });
    } catch {
      return cancelled();
    }
    o.budget.used++;
    repeats++;
  }
}
