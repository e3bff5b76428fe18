import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Counts the HTTP requests an SDK call made beyond the first (its transport retries after 429, 529,
 * 5xx or a reset connection), by wrapping the fetch the SDK client uses.
 */
const current = new AsyncLocalStorage<{ requests: number }>();

export const countingFetch: typeof fetch = (input, init) => {
  const c = current.getStore();
  if (c) c.requests++;
  return fetch(input, init);
};

export async function withRequestCount<T>(fn: () => Promise<T>): Promise<{ value?: T; error?: unknown; retries: number }> {
  const counter = { requests: 0 };
  try {
    const value = await current.run(counter, fn);
    return { value, retries: Math.max(0, counter.requests - 1) };
  } catch (error) {
    return { error, retries: Math.max(0, counter.requests - 1) };
  }
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
