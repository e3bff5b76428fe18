import type OpenAI from 'openai';
import { ApiRunner, approxTokens, upperTokens } from './apiRunner.js';
import { extractJson } from './extract.js';
import { costOf, priceFor } from './pricing.js';
import { countingFetch, withRequestCount } from './transport.js';
import type { AgentRequest, AgentResult, AgentRunner } from './types.js';
import type { Usage } from './usage.js';

/**
 * OpenAI-compatible chat completions through the `openai` client: OpenAI itself, or a local server
 * (vLLM, Ollama, llama.cpp) with base_url or OPENAI_BASE_URL. The intelligence is the system message
 * (servers that cache prompt prefixes report it as cached tokens); the task is the user message.
 */
export class OpenAiRunner extends ApiRunner implements AgentRunner {
  private client: Promise<OpenAI> | undefined;

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
    return costOf({ inputTokens: upperTokens(req.prompt.full), cacheWriteTokens: 0, cacheReadTokens: 0, outputTokens: s.maxTokens }, priceFor(s.model, this.prices));
  }

  async run(req: AgentRequest): Promise<AgentResult> {
    const noKey = this.missingKey();
    if (noKey) return noKey;
    const s = this.settings(req.phase);
    const ticket = await this.place(approxTokens(req.prompt.full) + s.maxTokens, req);
    if (!ticket) return { ok: false, failure: { kind: 'cancelled' } };
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
      return this.failure(r.error, r.retries);
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
