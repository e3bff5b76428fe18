import { randomUUID } from 'node:crypto';
import type { IRedisClient } from 'bullmq';
import type { BudgetStop } from '../budget.js';

/*
 * `cf build --queue --max-cost USD`: one budget for every worker of the build, in Redis. As on one machine
 * (exec/budget.ts), an attempt starts only if what was spent, plus what running attempts are expected to
 * cost, plus its own expected cost stays within the budget: each reservation and each settlement is one
 * Lua script (atomic across workers). An attempt's expected cost is its runner's estimate, else the
 * dearest attempt of its phase so far (the coordinator writes what its records know when the build starts);
 * with neither, one attempt of the phase runs at a time, over all workers, until one is priced.
 */

const POLL_MS = 200;

/** KEYS: budget (hash: max, spent), dearest (phase → usd), held (id → "usd|phase"). ARGV: phase, estimate ('' unknown), id. */
const RESERVE = `
local max = tonumber(redis.call('HGET', KEYS[1], 'max') or '0')
local spent = tonumber(redis.call('HGET', KEYS[1], 'spent') or '0')
local expected = tonumber(ARGV[2]) or tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '')
local held = redis.call('HVALS', KEYS[3])
local running = 0
for _, v in ipairs(held) do
  local usd, phase = string.match(v, '^([^|]*)|(.*)$')
  running = running + tonumber(usd)
  if expected == nil and phase == ARGV[1] then return {'wait'} end
end
expected = expected or 0
if spent + running + expected > max then return {'stop', tostring(expected), tostring(max), tostring(spent), tostring(running)} end
redis.call('HSET', KEYS[3], ARGV[3], tostring(expected) .. '|' .. ARGV[1])
return {'ok'}
`;

/** KEYS: budget, dearest, held. ARGV: id, usd ('' unknown), phase. */
const SETTLE = `
redis.call('HDEL', KEYS[3], ARGV[1])
local usd = tonumber(ARGV[2])
if usd then
  redis.call('HINCRBYFLOAT', KEYS[1], 'spent', usd)
  local d = tonumber(redis.call('HGET', KEYS[2], ARGV[3]) or '0')
  if usd > d then redis.call('HSET', KEYS[2], ARGV[3], tostring(usd)) end
end
return 0
`;

/** KEYS: budget, dearest. ARGV: max, keep seconds, then phase, usd pairs. */
const CREATE = `
redis.call('HSET', KEYS[1], 'max', ARGV[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[2]))
return 0
`;

const keysOf = (key: string): string[] => [`cf:budget:${key}`, `cf:budget:${key}:dearest`, `cf:budget:${key}:held`];
/** A build's budget outlives it by this long (its coordinator may be restarted and go on). */
const KEEP_S = 7 * 86_400;

export class SharedBudget {
  private defined: Promise<IRedisClient> | null = null;

  constructor(private readonly client: () => Promise<IRedisClient>) {}

  private redis(): Promise<IRedisClient> {
    this.defined ??= this.client().then((c) => {
      c.defineCommand('cfBudgetCreate', { numberOfKeys: 2, lua: CREATE });
      c.defineCommand('cfBudgetReserve', { numberOfKeys: 3, lua: RESERVE });
      c.defineCommand('cfBudgetSettle', { numberOfKeys: 3, lua: SETTLE });
      return c;
    });
    return this.defined;
  }

  /** The coordinator, when the build starts: the budget, and what earlier builds say one attempt of each phase costs. */
  async create(key: string, maxUsd: number, dearest: Record<string, number>): Promise<void> {
    const c = await this.redis();
    const [budget, dear] = keysOf(key) as [string, string];
    await c.runCommand('cfBudgetCreate', [budget, dear, String(maxUsd), KEEP_S, ...Object.entries(dearest).flatMap(([p, usd]) => [p, String(usd)])]);
  }

  /** Room for one attempt of `phase` (its settle), or why it may not start. */
  async reserve(key: string, phase: string, estimate: number | null, signal: AbortSignal): Promise<{ settle(usd: number | null): Promise<void> } | { stop: BudgetStop }> {
    const c = await this.redis();
    const keys = keysOf(key);
    const id = randomUUID();
    for (;;) {
      signal.throwIfAborted();
      const r = (await c.runCommand('cfBudgetReserve', [...keys, phase, estimate === null ? '' : String(estimate), id])) as string[];
      if (r[0] === 'ok') break;
      if (r[0] === 'stop') {
        const [, expectedUsd, maxUsd, spentUsd, runningUsd] = r.map(Number) as [number, number, number, number, number];
        return { stop: { phase, expectedUsd, maxUsd, spentUsd, runningUsd } };
      }
      // Nothing known of this phase's cost and one of its attempts runs: it tells first.
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    return { settle: async (usd) => void (await c.runCommand('cfBudgetSettle', [...keys, id, usd === null ? '' : String(usd), phase])) };
  }
}
