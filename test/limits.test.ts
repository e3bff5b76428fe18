import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RateLimiter } from '../src/exec/runners/limits.js';
import { extractJson, parseClaudeCodeEnvelope } from '../src/exec/runners/extract.js';
import { costOf, DEFAULT_PRICES, priceFor } from '../src/exec/runners/pricing.js';
import { Budget, type BudgetStop } from '../src/exec/budget.js';
import { formatBudgetStop } from '../src/cli/format/events.js';

describe('rate limits', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('concurrency: a request waits for a release', async () => {
    const l = new RateLimiter({ concurrency: 2 });
    const a = await l.acquire(0);
    await l.acquire(0);
    let third = false;
    const p = l.acquire(0).then((t) => {
      third = true;
      return t;
    });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(third).toBe(false);
    a.release();
    await p;
    expect(third).toBe(true);
  });

  it('requests per minute: the next request starts when the oldest leaves the 60 s window', async () => {
    const l = new RateLimiter({ requestsPerMinute: 2 }, () => Date.now());
    (await l.acquire(0)).release();
    await vi.advanceTimersByTimeAsync(1000);
    (await l.acquire(0)).release();
    const started: number[] = [];
    const p = l.acquire(0).then(() => started.push(Date.now()));
    const t0 = Date.now();
    await vi.advanceTimersByTimeAsync(58_000);
    expect(started).toEqual([]);
    await vi.advanceTimersByTimeAsync(2_000);
    await p;
    expect(started[0]! - t0).toBeGreaterThanOrEqual(59_000);
  });

  it('tokens per minute: reserved from the estimate, corrected by the real usage', async () => {
    const l = new RateLimiter({ tokensPerMinute: 1000 });
    const big = await l.acquire(900);
    big.release(100); // it used far less than estimated: room for more at once
    let second = false;
    const p = l.acquire(800).then(() => (second = true));
    await vi.advanceTimersByTimeAsync(0);
    await p;
    expect(second).toBe(true);
    let third = false;
    const q = l.acquire(500).then(() => (third = true));
    await vi.advanceTimersByTimeAsync(30_000);
    expect(third).toBe(false); // 100 + 800 + 500 > 1000 until the first two leave the window
    await vi.advanceTimersByTimeAsync(31_000);
    await q;
    expect(third).toBe(true);
  });
});

describe('rate limits, real timers', () => {
  it('a request waiting for the window keeps the process alive (an unrefed timer let a build exit 0 mid-way)', async () => {
    const l = new RateLimiter({ requestsPerMinute: 1 });
    (await l.acquire(0)).release();
    const ac = new AbortController();
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const waiting = l.acquire(0, ac.signal).catch(() => 'aborted');
    await Promise.resolve();
    // The timer that wakes the waiter must hold the event loop (a ref'd Timeout shows in the active resources).
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBeGreaterThan(before);
    ac.abort();
    expect(await waiting).toBe('aborted');
  });

  it('a request that waited leaves no abort listener on its signal (one per request added up on a batch\'s signal)', async () => {
    const l = new RateLimiter({ concurrency: 1 });
    const signal = new AbortController().signal;
    for (let i = 0; i < 12; i++) {
      const held = await l.acquire(0, signal);
      const next = l.acquire(0, signal);
      held.release();
      (await next).release();
    }
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
  });
});

describe('answers and prices', () => {
  it('extracts the whole text, or the last fenced json block', () => {
    expect(extractJson(' [1, 2] ')).toBe('[1, 2]');
    expect(extractJson('Sure:\n```json\n[{"a":1}]\n```\nand again:\n```json\n[{"a":2}]\n```\n')).toBe('[{"a":2}]');
    expect(extractJson('```\n[3]\n```')).toBe('[3]');
    expect(extractJson('no json here')).toBe('no json here');
  });

  it('reads Claude Code envelopes', () => {
    const e = parseClaudeCodeEnvelope(JSON.stringify({ type: 'result', is_error: false, result: 'x', total_cost_usd: 0.5, usage: { input_tokens: 1, output_tokens: 2 } }));
    expect(e).toMatchObject({ result: 'x', costUsd: 0.5, usage: { input: 1, output: 2, cacheRead: 0, cacheWrite: 0 } });
    expect(parseClaudeCodeEnvelope('[1]')).toBeNull();
  });

  it('prices by the longest model prefix; batches cost half', () => {
    expect(priceFor('claude-opus-4-1-20250805', DEFAULT_PRICES)!.input).toBe(15);
    expect(priceFor('claude-opus-4-5-20251101', DEFAULT_PRICES)!.input).toBe(5);
    expect(priceFor('gpt-5', DEFAULT_PRICES)).toBeNull();
    // The current lineup is priced, not left unpriced or caught by an older prefix.
    expect(priceFor('claude-opus-5-5', DEFAULT_PRICES)).toMatchObject({ input: 4, output: 20, cacheRead: 0.2 });
    expect(priceFor('claude-sonnet-5-5', DEFAULT_PRICES)).toMatchObject({ input: 2, output: 10 });
    expect(priceFor('claude-haiku-5-5', DEFAULT_PRICES)).toMatchObject({ input: 0.1, output: 0.5 });
    const price = priceFor('claude-sonnet-4-5', DEFAULT_PRICES)!;
    const u = { inputTokens: 1_000_000, cacheWriteTokens: 1_000_000, cacheReadTokens: 1_000_000, outputTokens: 1_000_000 };
    expect(costOf(u, price)).toBeCloseTo(3 + 3.75 + 0.3 + 15);
    expect(costOf({ ...u, batch: true }, price)).toBeCloseTo((3 + 3.75 + 0.3 + 15) / 2);
  });

  it('budget: stops before an attempt would exceed it; waits to learn an unknown cost', async () => {
    const b = new Budget(1);
    const first = await b.reserve('p', null);
    expect('id' in first).toBe(true);
    let second: { id: number } | { stop: BudgetStop } | undefined;
    const pending = b.reserve('p', null).then((r) => (second = r));
    await Promise.resolve();
    expect(second).toBeUndefined(); // nothing known about the phase's cost while its first attempt runs
    b.settle((first as { id: number }).id, 0.6);
    await pending;
    // The stop is data; the reporters word it.
    expect(second && 'stop' in second && formatBudgetStop(second.stop)).toContain('would exceed --max-cost $1.00');
    expect(b.spentUsd).toBeCloseTo(0.6);
    expect('id' in (await b.reserve('p', 0.3))).toBe(true);
  });
});
