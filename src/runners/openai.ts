import type OpenAI from 'openai';
import type { ApiRunnerConfig, PhaseConfig, Pipeline } from '../graph/pipeline.js';
import { effectiveModel } from '../graph/pipeline.js';
import { approxTokens } from './anthropic.js';
import { extractJson } from './extract.js';
import { RateLimiter } from './limits.js';
import { costOf, priceFor, type Price } from './pricing.js';
import { countingFetch, isFatalStatus, scrub, statusOf, withRequestCount } from './transport.js';
import type { AgentRequest, AgentResult, AgentRunner } from './types.js';
import type { Usage } from './usage.js';

/**
 * OpenAI-compatible chat completions through the `openai` client: OpenAI itself, or a local server
 * (vLLM, Ollama, llama.cpp) with base_url or OPENAI_BASE_URL. The intelligence is the system message
 * (servers that cache prompt prefixes report it as cached tokens); the task is the user message.
 */
export class OpenAiRunner implements AgentRunner {
  readonly delivery = 'reply' as const;
  readonly priced: boolean;
  private client: Promise<OpenAI> | undefined;
  private readonly limiter: RateLimiter;
  private readonly phases: Map<string, PhaseConfig>;

  constructor(
    private readonly config: ApiRunnerConfig,
    pipeline: Pipeline,
    private readonly prices: Record<string, Price> = pipeline.prices,
  ) {
    this.phases = new Map(pipeline.phases.map((p) => [p.name, p]));
    this.priced = pipeline.phases.filter((p) => p.runner === config.name).every((p) => priceFor(this.settings(p.name).model, prices) !== null);
    this.limiter = new RateLimiter(config.limits);
  }

  private settings(phase: string): { model: string; maxTokens: number; temperature?: number } {
    const p = this.phases.get(phase);
    const m = p ? effectiveModel(this.config, p) : this.config.model;
    return { model: m.model ?? this.config.model.model, maxTokens: m.maxTokens ?? this.config.model.maxTokens, ...(m.temperature !== undefined ? { temperature: m.temperature } : {}) };
  }

  private get apiKey(): string | undefined {
    return process.env[this.config.apiKeyEnv];
  }

  private getClient(): Promise<OpenAI> {
    this.client ??= import('openai').then(
      ({ default: Client }) =>
        new Client({
          apiKey: this.apiKey ?? '',
          ...(this.config.baseUrl ? { baseURL: this.config.baseUrl } : {}),
          maxRetries: this.config.maxRetries,
          timeout: this.config.timeoutMs,
          fetch: countingFetch,
        }),
    );
    return this.client;
  }

  estimateCost(req: AgentRequest): number | null {
    const s = this.settings(req.phase);
    return costOf({ inputTokens: approxTokens(req.prompt.full), cacheWriteTokens: 0, cacheReadTokens: 0, outputTokens: s.maxTokens }, priceFor(s.model, this.prices));
  }

  async run(req: AgentRequest): Promise<AgentResult> {
    if (!this.apiKey) {
      return { ok: false, failure: { kind: 'api', message: `${this.config.apiKeyEnv} is not set: the ${this.config.name} runner reads its API key from there`, fatal: true } };
    }
    const s = this.settings(req.phase);
    let ticket;
    try {
      ticket = await this.limiter.acquire(approxTokens(req.prompt.full) + s.maxTokens, req.signal);
    } catch {
      return { ok: false, failure: { kind: 'cancelled' } };
    }
    const client = await this.getClient();
    const r = await withRequestCount(() =>
      client.chat.completions.create(
        {
          model: s.model,
          max_tokens: s.maxTokens,
          ...(s.temperature !== undefined ? { temperature: s.temperature } : {}),
          messages: [
            { role: 'system', content: req.prompt.intelligence },
            { role: 'user', content: req.prompt.task },
          ],
        },
        { signal: req.signal },
      ),
    );
    if (r.error !== undefined || !r.value) {
      ticket.release();
      const e = r.error;
      if (e instanceof Error && (e.name === 'APIUserAbortError' || e.name === 'AbortError')) return { ok: false, failure: { kind: 'cancelled' } };
      const status = statusOf(e);
      const message = scrub(`${status ? `HTTP ${status}: ` : ''}${e instanceof Error ? e.message : String(e)}${r.retries ? ` (after ${r.retries} transport retries)` : ''}`, this.apiKey);
      return { ok: false, failure: { kind: 'api', message, fatal: isFatalStatus(status) } };
    }
    const c = r.value;
    const cached = c.usage?.prompt_tokens_details?.cached_tokens ?? 0;
    const tokens = {
      model: c.model,
      inputTokens: (c.usage?.prompt_tokens ?? 0) - cached,
      cacheWriteTokens: 0,
      cacheReadTokens: cached,
      outputTokens: c.usage?.completion_tokens ?? 0,
      ...(r.retries ? { transportRetries: r.retries } : {}),
    };
    const usage: Usage = { ...tokens, costUsd: costOf(tokens, priceFor(s.model, this.prices)) };
    ticket.release(tokens.inputTokens + cached + tokens.outputTokens);
    const choice = c.choices[0];
    if (choice?.finish_reason === 'length') {
      return { ok: false, failure: { kind: 'api', message: `the answer was cut off at max_tokens (${s.maxTokens}); raise max_tokens for this phase`, fatal: false }, usage };
    }
    return { ok: true, output: extractJson(choice?.message.content ?? ''), usage };
  }
}
