import { randomUUID } from 'node:crypto';
import type { IRedisClient } from 'bullmq';
import type { Limits } from '../runners/limits.js';

/*
 * A runner's limits (pipeline.yaml `limits:`: requests at once, requests and tokens per minute) held across
 * every worker of a queue: a sliding window of starts and of tokens, and leases of the runs going on, in
 * Redis, decided by one Lua script each (atomic: two workers never both take the last place), on Redis's
 * clock (the machines' clocks may differ). The limits one process holds for its own runs (runners/limits.ts)
 * still apply inside each worker.
 *
 * A run that waits asks again when its place would be free (the oldest start leaves the window), or every
 * POLL_MS for a place among the runs at once (freed by a worker's release, or by a dead worker's lease
 * expiring: LEASE_MS past the runner's timeout).
 */

const POLL_MS = 200;

/** KEYS: starts, tokens, active. ARGV: window ms, max requests, max tokens, concurrency, id, lease ms. Returns ms to wait (0: taken). */
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window, maxReq, maxTok, conc = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local wait = 0
if conc > 0 and redis.call('ZCARD', KEYS[3]) >= conc then wait = ${POLL_MS} end
if maxReq > 0 then
  local n = redis.call('ZCARD', KEYS[1])
  if n >= maxReq then
    local at = redis.call('ZRANGE', KEYS[1], n - maxReq, n - maxReq, 'WITHSCORES')
    wait = math.max(wait, tonumber(at[2]) + window - now + 1)
  end
end
if maxTok > 0 then
  local used = 0
  local entries = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
  for i = 1, #entries, 2 do used = used + tonumber(string.match(entries[i], ':(%d+)$')) end
  if used >= maxTok and #entries > 0 then wait = math.max(wait, tonumber(entries[2]) + window - now + 1) end
end
if wait > 0 then return wait end
redis.call('ZADD', KEYS[1], now, ARGV[5])
redis.call('PEXPIRE', KEYS[1], window * 2)
if conc > 0 then
  redis.call('ZADD', KEYS[3], now + tonumber(ARGV[6]), ARGV[5])
  redis.call('PEXPIRE', KEYS[3], tonumber(ARGV[6]) * 2)
end
return 0
`;

/** KEYS: tokens, active. ARGV: id, tokens, window ms. */
const RELEASE = `
redis.call('ZREM', KEYS[2], ARGV[1])
local tokens = tonumber(ARGV[2])
if tokens > 0 then
  local t = redis.call('TIME')
  redis.call('ZADD', KEYS[1], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), ARGV[1] .. ':' .. tokens)
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)
end
return 0
`;

export interface SharedTicket {
  /** The run ended: its place among the runs at once is free, and the tokens it used count in the window. */
  release(tokens: number): Promise<void>;
}

export class SharedLimits {
  private defined: Promise<IRedisClient> | null = null;

  /**
   * `windowMs`: the window of the per-minute limits (60 s; a test holds "3 per 300 ms" instead of waiting
   * minutes). `leaseMs`: how long a dead worker's place among the runs at once is held.
   */
  constructor(
    private readonly client: () => Promise<IRedisClient>,
    private readonly o: { windowMs?: number; leaseMs?: number } = {},
  ) {}

  private redis(): Promise<IRedisClient> {
    this.defined ??= this.client().then((c) => {
      c.defineCommand('cfLimitAcquire', { numberOfKeys: 3, lua: ACQUIRE });
      c.defineCommand('cfLimitRelease', { numberOfKeys: 2, lua: RELEASE });
      return c;
    });
    return this.defined;
  }

  /** Waits for a place for one run of `runner` (null: unlimited, nothing asked of Redis). Throws when `signal` aborts. */
  async acquire(runner: string, limits: Limits, signal: AbortSignal, leaseMs = this.o.leaseMs ?? 3_600_000): Promise<SharedTicket | null> {
    const { concurrency = 0, requestsPerMinute: rpm = 0, tokensPerMinute: tpm = 0 } = limits;
    if (!concurrency && !rpm && !tpm) return null;
    const c = await this.redis();
    const keys = [`cf:limits:${runner}:starts`, `cf:limits:${runner}:tokens`, `cf:limits:${runner}:active`];
    const windowMs = this.o.windowMs ?? 60_000;
    const id = randomUUID();
    for (;;) {
      signal.throwIfAborted();
      const wait = Number(await c.runCommand('cfLimitAcquire', [...keys, windowMs, rpm, tpm, concurrency, id, leaseMs]));
      if (wait <= 0) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(wait, windowMs));
        function done(): void {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          resolve();
        }
        signal.addEventListener('abort', done, { once: true });
      });
    }
    return { release: async (tokens) => void (await c.runCommand('cfLimitRelease', [keys[1], keys[2], id, Math.max(0, Math.round(tokens)), windowMs])) };
  }
}
