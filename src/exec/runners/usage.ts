/** What one attempt consumed. Tokens as the API reported them; dollars from the price table (or the agent). */
export interface Usage {
  model?: string;
  /** Input tokens read at the full price (not from the prompt cache). */
  inputTokens: number;
  cacheWriteTokens: number;
  cacheReadTokens: number;
  outputTokens: number;
  /** null when no price is known for the model. */
  costUsd: number | null;
  /** Requests repeated after 429/529/5xx, a reset connection or a timeout (not validation attempts): every one, in a failed attempt too. */
  transportRetries?: number;
  /** Priced as a Message Batch (half price). */
  batch?: boolean;
}

export interface UsageTotals {
  attempts: number;
  inputTokens: number;
  cacheWriteTokens: number;
  cacheReadTokens: number;
  outputTokens: number;
  costUsd: number;
  /** Attempts whose cost is unknown (no price). */
  unpriced: number;
  /** Cost of every attempt after a batch's first: what retries cost. */
  retryCostUsd: number;
  /** Requests repeated after 429/529/5xx/connection resets (they cost waiting, not attempts). */
  transportRetries: number;
}

export function emptyTotals(): UsageTotals {
  return { attempts: 0, inputTokens: 0, cacheWriteTokens: 0, cacheReadTokens: 0, outputTokens: 0, costUsd: 0, unpriced: 0, retryCostUsd: 0, transportRetries: 0 };
}

export function addUsage(t: UsageTotals, u: Usage, isRetry: boolean): void {
  t.attempts++;
  t.inputTokens += u.inputTokens;
  t.cacheWriteTokens += u.cacheWriteTokens;
  t.cacheReadTokens += u.cacheReadTokens;
  t.outputTokens += u.outputTokens;
  t.transportRetries += u.transportRetries ?? 0;
  if (u.costUsd === null) t.unpriced++;
  else {
    t.costUsd += u.costUsd;
    if (isRetry) t.retryCostUsd += u.costUsd;
  }
}

/** Whether the runner reported anything for these attempts (tokens, dollars, repeated requests): local agents report nothing. */
export function reported(t: UsageTotals): boolean {
  return t.inputTokens + t.cacheWriteTokens + t.cacheReadTokens + t.outputTokens > 0 || t.costUsd > 0 || t.unpriced > 0 || t.transportRetries > 0;
}

/** Share of input tokens served from the prompt cache. */
export function cacheShare(t: UsageTotals): number {
  const all = t.inputTokens + t.cacheWriteTokens + t.cacheReadTokens;
  return all ? t.cacheReadTokens / all : 0;
}

function tokens(n: number): string {
  if (n < 1000) return String(n);
  if (n < 1_000_000) return `${(n / 1000).toFixed(1)}k`;
  return `${(n / 1_000_000).toFixed(2)}M`;
}

export function formatUsd(usd: number): string {
  return usd >= 1 ? `$${usd.toFixed(2)}` : `$${usd.toFixed(4)}`;
}

/** Said instead of dollars when no attempt had a price: "$0.0000" would read as free. */
export const UNPRICED = 'unpriced (no price for the model: add it under prices: in pipeline.yaml)';

/**
 * "45.2k tokens in (82% from cache), 3.1k out, $0.0421 (retries $0.0050), 2 requests repeated (429/5xx/connection)";
 * "…, unpriced (…)" when no attempt had a price (a local model), "$0.0421, 2 attempts unpriced" when some had none.
 */
export function formatTotals(t: UsageTotals): string {
  const input = t.inputTokens + t.cacheWriteTokens + t.cacheReadTokens;
  const parts = [`${tokens(input)} tokens in (${Math.round(cacheShare(t) * 100)}% from cache)`, `${tokens(t.outputTokens)} out`];
  if (t.unpriced > 0 && t.unpriced >= t.attempts) {
    parts.push(UNPRICED);
  } else {
    let cost = formatUsd(t.costUsd);
    if (t.retryCostUsd > 0) cost += ` (retries ${formatUsd(t.retryCostUsd)})`;
    if (t.unpriced) cost += `, ${t.unpriced} attempt${t.unpriced === 1 ? '' : 's'} unpriced`;
    parts.push(cost);
  }
  if (t.transportRetries) parts.push(`${t.transportRetries} request${t.transportRetries === 1 ? '' : 's'} repeated (429/5xx/connection)`);
  return parts.join(', ');
}
