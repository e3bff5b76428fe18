import type OpenAI from 'openai';
import { ApiRunner, approxTokens, upperTokens } from './apiRunner.js';
import { extractJson } from './extract.js';
import { costOf, priceFor } from './pricing.js';
import { answerItems, openAiFormat, openAiMode, schemaRefused, type OpenAiMode } from './structured.js';
import type { SendOptions } from './transport.js';
import type { AgentRequest, AgentResult, AgentRunner } from './types.js';
import type { Usage } from './usage.js';

/**
 * OpenAI-compatible chat completions through the `openai` client: OpenAI itself, or a local server
 * (vLLM, Ollama, llama.cpp) with base_url or OPENAI_BASE_URL, which needs no key. The intelligence is the
 * system message (servers that cache prompt prefixes report it as cached tokens); the task is the user
 * message. Transport failures are repeated by transport.ts within the batch's budget, not by the client.
 * A phase with a schema sends the batch schema as `response_format` (structured.ts: strict, loose or off).
 */
export class OpenAiRunner extends ApiRunner implements AgentRunner {
  private client: Promise<{ client: OpenAI; errors: SendOptions['errors'] }> | undefined;
  protected readonly urlEnv = 'OPENAI_BASE_URL';
  protected readonly defaultUrl = 'https://api.openai.com/v1';
  private readonly mode: OpenAiMode = openAiMode(this.config);

  private getClient(): Promise<{ client: OpenAI; errors: SendOptions['errors'] }> {
    this.client ??= import('openai').then(({ default: Client, APIConnectionError, APIConnectionTimeoutError }) => ({
      client: new Client({ apiKey: this.keyToSend, baseURL: this.baseUrl, maxRetries: 0, timeout: this.config.timeoutMs }),
      errors: { connection: APIConnectionError, timeout: APIConnectionTimeoutError },
    }));
    return this.client;
  }

  /** The response_format of a request (null: no schema, or structured: off). */
  private format(req: AgentRequest): ReturnType<typeof openAiFormat> {
    return req.schema?.constrain ? openAiFormat(req.schema, this.mode, req.phase) : null;
  }

  estimateCost(req: AgentRequest): number | null {
    const s = this.settings(req.phase);
    const schema = this.format(req);
    const input = upperTokens(req.prompt.full) + (schema ? upperTokens(JSON.stringify(schema.responseFormat)) : 0);
    return costOf({ inputTokens: input, cacheWriteTokens: 0, cacheReadTokens: 0, outputTokens: s.maxTokens }, priceFor(s.model, this.prices));
  }

  async run(req: AgentRequest): Promise<AgentResult> {
    const noKey = this.missingKey();
    if (noKey) return noKey;
    const s = this.settings(req.phase);
    const structured = this.format(req);
    const schemaTokens = structured ? approxTokens(JSON.stringify(structured.responseFormat)) : 0;
    const ticket = await this.place(approxTokens(req.prompt.full) + schemaTokens + s.maxTokens, req);
    if (!ticket) return { ok: false, failure: { kind: 'cancelled' } };
    const { client, errors } = await this.getClient();
    const r = await this.request(req, errors, (signal) =>
      client.chat.completions.create(
        {
          model: s.model,
          max_tokens: s.maxTokens,
          ...(s.temperature !== undefined ? { temperature: s.temperature } : {}),
          messages: [
            { role: 'system', content: req.prompt.intelligence },
            { role: 'user', content: req.prompt.task },
          ],
          ...(structured ? { response_format: structured.responseFormat } : {}),
        },
        { signal },
      ),
    );
    if (!r.ok) {
      ticket.release();
      const failed = this.failed(r, s.model);
      return structured ? schemaRefused(failed, `structured: ${this.mode}`, 'loose or off', this.config.name) : failed;
    }
    const c = r.value;
    const cached = c.usage?.prompt_tokens_details?.cached_tokens ?? 0;
    const tokens = {
      model: c.model,
      inputTokens: (c.usage?.prompt_tokens ?? 0) - cached,
      cacheWriteTokens: 0,
      cacheReadTokens: cached,
      outputTokens: c.usage?.completion_tokens ?? 0,
      ...(r.repeats ? { transportRetries: r.repeats } : {}),
    };
    const usage: Usage = { ...tokens, costUsd: costOf(tokens, priceFor(s.model, this.prices)) };
    ticket.release(tokens.inputTokens + cached + tokens.outputTokens);
    const choice = c.choices[0];
    const text = choice?.message.content ?? '';
    if (choice?.finish_reason === 'length') {
      return { ok: false, failure: { kind: 'api', message: `the answer was cut off at max_tokens (${s.maxTokens}); raise max_tokens for this phase`, fatal: false }, usage, partial: text };
    }
    // Structured outputs: a refusal comes instead of the content; the model may answer otherwise next time.
    if (choice?.message.refusal) return { ok: false, failure: { kind: 'output', message: `the model refused: ${choice.message.refusal}` }, usage };
    return { ok: true, output: structured ? answerItems(text, structured.adapted) : extractJson(text), usage };
  }
}
