import type { Usage } from './usage.js';

/** USD per million tokens. */
export interface Price {
  input: number;
  output: number;
  cacheWrite: number;
  cacheRead: number;
}

const p = (input: number, output: number, cacheRead = input / 10): Price => ({ input, output, cacheWrite: input * 1.25, cacheRead });

/**
 * Default prices by model-id prefix (the longest matching prefix wins), from Anthropic's pricing page
 * (5-minute cache writes at 1.25× input, cache hits at 0.1× unless noted). Override or extend them with
 * `prices:` in pipeline.yaml; check them against the provider's page before trusting a budget (last checked
 * 2026-11-30).
 */
export const DEFAULT_PRICES: Record<string, Price> = {
  'claude-fable-5-1': p(10, 50, 0.25),
  'claude-mythos-5-1': p(10, 50, 0.25),
  'claude-fable-5': p(10, 50, 1),
  'claude-mythos-5': p(10, 50, 1),
  'claude-opus-5-5': p(4, 20, 0.2),
  'claude-opus-5': p(5, 25),
  'claude-opus-4-8': p(5, 25),
  'claude-opus-4-7': p(5, 25),
  'claude-opus-4-6': p(5, 25),
  'claude-opus-4-5': p(5, 25),
  'claude-opus-4-1': p(15, 75),
  'claude-opus-4': p(15, 75),
  'claude-3-opus': p(15, 75),
  'claude-sonnet-5-5': p(2, 10, 0.1), // cache hits cut to 0.05x on 2026-10-07
  'claude-sonnet-5': p(2, 10),
  'claude-sonnet-4': p(3, 15),
  'claude-3-7-sonnet': p(3, 15),
  'claude-3-5-sonnet': p(3, 15),
  // Haiku 5.5: prompts up to 100k tokens (longer ones cost 5x; set prices: to budget for them).
  'claude-haiku-5-5': { input: 0.1, output: 0.5, cacheWrite: 0.125, cacheRead: 0.01 },
  'claude-haiku-4-5': p(1, 5),
  'claude-3-5-haiku': p(0.8, 4),
  'claude-3-haiku': { input: 0.25, output: 1.25, cacheWrite: 0.3, cacheRead: 0.03 },
};

export function priceFor(model: string, table: Record<string, Price>): Price | null {
  let best: string | null = null;
  for (const prefix of Object.keys(table)) if (model.startsWith(prefix) && (best === null || prefix.length > best.length)) best = prefix;
  return best === null ? null : table[best]!;
}

/** Dollars for these tokens; Message Batches cost half. */
export function costOf(u: Omit<Usage, 'costUsd'>, price: Price | null): number | null {
  if (!price) return null;
  const usd = (u.inputTokens * price.input + u.cacheWriteTokens * price.cacheWrite + u.cacheReadTokens * price.cacheRead + u.outputTokens * price.output) / 1_000_000;
  return u.batch ? usd / 2 : usd;
}
