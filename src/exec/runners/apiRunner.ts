import { effectiveModel, type ApiRunnerConfig, type PhaseConfig, type Pipeline } from '../../config/pipeline.js';
import { RateLimiter, type Ticket } from './limits.js';
import { priceFor, type Price } from './pricing.js';
import { declareSecretNames, scrubSecrets } from '../../util/secrets.js';
import { isFatalStatus, statusOf } from './transport.js';
import type { AgentRequest, AgentResult } from './types.js';

/** Rough token count of text (4 characters a token) for limits and estimates; the API reports the truth. */
export const approxTokens = (text: string): number => Math.ceil(text.length / 4);
/** A generous token count for budgets: a token per 3 UTF-8 bytes (English runs near 4 characters a token, CJK a character). */
export const upperTokens = (text: string): number => Math.ceil(Buffer.byteLength(text) / 3);

/** The model settings of one request: the runner's, with its phase's overrides. */
export interface RequestSettings {
  model: string;
  maxTokens: number;
  temperature?: number;
}

/**
 * What the API runners share: settings per phase, the key read from the environment at call time, the
 * runner's limits, and one way to turn a client error into a failure (scrubbed of the key; 4xx other than
 * 408/409/429 fatal, the rest an ordinary failed attempt).
 */
export abstract class ApiRunner {
  readonly delivery = 'reply' as const;
  readonly priced: boolean;
  protected readonly limiter: RateLimiter;
  private readonly phases: Map<string, PhaseConfig>;

  constructor(
    protected readonly config: ApiRunnerConfig,
    pipeline: Pipeline,
    protected readonly prices: Record<string, Price> = pipeline.prices,
  ) {
    this.phases = new Map(pipeline.phases.map((p) => [p.name, p]));
    declareSecretNames([config.apiKeyEnv]);
    this.priced = pipeline.phases.filter((p) => p.runner === config.name).every((p) => priceFor(this.settings(p.name).model, prices) !== null);
    this.limiter = new RateLimiter(config.limits);
  }

  protected settings(phase: string): RequestSettings {
    const p = this.phases.get(phase);
    const m = p ? effectiveModel(this.config, p) : this.config.model;
    return {
      model: m.model ?? this.config.model.model,
      maxTokens: m.maxTokens ?? this.config.model.maxTokens,
      ...(m.temperature !== undefined ? { temperature: m.temperature } : {}),
    };
  }

  protected get apiKey(): string | undefined {
    return process.env[this.config.apiKeyEnv];
  }

  /** The failure to return when the key is not set (before any request). */
  protected missingKey(): AgentResult | null {
    if (this.apiKey) return null;
    return { ok: false, failure: { kind: 'api', message: `${this.config.apiKeyEnv} is not set: the ${this.config.name} runner reads its API key from there`, fatal: true } };
  }

  /** A place under the runner's limits for about `tokens` tokens, or null when the run was cancelled meanwhile. */
  protected async place(tokens: number, req: AgentRequest): Promise<Ticket | null> {
    return this.limiter.acquire(tokens, req.signal).catch(() => null);
  }

  protected failure(e: unknown, retries = 0): AgentResult {
    if (e instanceof Error && (e.name === 'APIUserAbortError' || e.name === 'AbortError')) return { ok: false, failure: { kind: 'cancelled' } };
    const status = statusOf(e);
    const message = scrubSecrets(`${status ? `HTTP ${status}: ` : ''}${e instanceof Error ? e.message : String(e)}${retries ? ` (after ${retries} transport retries)` : ''}`);
    return { ok: false, failure: { kind: 'api', message, fatal: isFatalStatus(status) } };
  }
}
