import { isIPv4 } from 'node:net';
import { effectiveModel, type ApiRunnerConfig, type PhaseConfig, type Pipeline } from '../../config/pipeline.js';
import { RateLimiter, type Ticket } from './limits.js';
import { costOf, priceFor, type Price } from './pricing.js';
import { declareSecretNames, scrubSecrets } from '../../util/secrets.js';
import { isFatalStatus, RepeatBudget, send, statusOf, type SendOptions, type Sent } from './transport.js';
import type { AgentRequest, AgentResult } from './types.js';
import type { Usage } from './usage.js';

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

/** The key sent to a server on this machine when none is set: what llama.cpp's documentation uses. */
const NO_KEY = 'sk-no-key-required';

/** Whether a URL names this machine (localhost, 127.0.0.0/8, ::1): a local llama.cpp, vLLM or Ollama. */
export function isLoopback(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
  } catch {
    return false;
  }
  return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || (isIPv4(host) && host.startsWith('127.'));
}

/**
 * What the API runners share: settings per phase, the key read from the environment at call time (none
 * needed by a server on this machine), the runner's limits, and its requests sent through transport.ts:
 * repeated there within the batch's budget, every repeat counted, failures scrubbed of the key.
 */
export abstract class ApiRunner {
  readonly delivery = 'reply' as const;
  readonly priced: boolean;
  protected readonly limiter: RateLimiter;
  private readonly phases: Map<string, PhaseConfig>;
  /** Per batch (AgentRequest.batchRun): the repeats its attempts may still spend. */
  private readonly budgets = new WeakMap<object, RepeatBudget>();

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

  /** The variable the client reads its base URL from, and the provider's own URL. */
  protected abstract readonly urlEnv: string;
  protected abstract readonly defaultUrl: string;

  protected settings(phase: string): RequestSettings {
    const p = this.phases.get(phase);
    const m = p ? effectiveModel(this.config, p) : this.config.model;
    return {
      model: m.model ?? this.config.model.model,
      maxTokens: m.maxTokens ?? this.config.model.maxTokens,
      ...(m.temperature !== undefined ? { temperature: m.temperature } : {}),
    };
  }

  /** The server: base_url, else the client's environment variable, else the provider's. */
  protected get baseUrl(): string {
    return this.config.baseUrl ?? (process.env[this.urlEnv] || this.defaultUrl);
  }

  protected get apiKey(): string | undefined {
    return process.env[this.config.apiKeyEnv] || undefined;
  }

  /** The key the client sends: the environment's, or a placeholder for a server on this machine. */
  protected get keyToSend(): string {
    return this.apiKey ?? NO_KEY;
  }

  /** The failure to return when the key is not set (before any request); a server on this machine needs none. */
  protected missingKey(): AgentResult | null {
    if (this.apiKey || isLoopback(this.baseUrl)) return null;
    return {
      ok: false,
      failure: {
        kind: 'api',
        message: `${this.config.apiKeyEnv} is not set: the ${this.config.name} runner reads its API key from there (a server on this machine, such as base_url: http://127.0.0.1:8080/v1, needs none)`,
        fatal: true,
      },
    };
  }

  /** A place under the runner's limits for about `tokens` tokens, or null when the run was cancelled meanwhile. */
  protected async place(tokens: number, req: AgentRequest): Promise<Ticket | null> {
    return this.limiter.acquire(tokens, req.signal).catch(() => null);
  }

  /** Sends one request of `req`'s batch, repeating it within the batch's budget (transport.ts). */
  protected request<T>(req: AgentRequest, errors: SendOptions['errors'], call: (signal: AbortSignal) => Promise<T>): Promise<Sent<T>> {
    let budget = req.batchRun && this.budgets.get(req.batchRun);
    if (!budget) {
      budget = new RepeatBudget(this.config.maxRetries);
      if (req.batchRun) this.budgets.set(req.batchRun, budget);
    }
    return send(call, { budget, signal: req.signal, runner: this.config.name, baseUrl: this.baseUrl, errors });
  }

  /**
   * A request that got no answer: its failure (scrubbed of the key), and, when it was repeated, a usage
   * of no tokens that counts the repeats (a request that failed costs nothing, but it is not free of time).
   */
  protected failed(sent: Extract<Sent<unknown>, { ok: false }>, model: string): AgentResult {
    const f = sent.failure;
    const failure = f.kind === 'api' ? { ...f, message: scrubSecrets(f.message) } : f;
    if (!sent.repeats) return { ok: false, failure };
    const tokens = { model, inputTokens: 0, cacheWriteTokens: 0, cacheReadTokens: 0, outputTokens: 0, transportRetries: sent.repeats };
    const usage: Usage = { ...tokens, costUsd: costOf(tokens, priceFor(model, this.prices)) };
    return { ok: false, failure, usage };
  }

  /** A failure of a call made outside `request` (the Message Batches API, whose client repeats its own calls). */
  protected failure(e: unknown): AgentResult {
    const status = statusOf(e);
    const message = scrubSecrets(`${status ? `HTTP ${status}: ` : ''}${e instanceof Error ? e.message : String(e)}`);
    return { ok: false, failure: { kind: 'api', message, fatal: isFatalStatus(status) } };
  }
}
