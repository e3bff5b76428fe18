import type Anthropic from '@anthropic-ai/sdk';
import type { ApiRunnerConfig, JsonSchema, Pipeline } from '../../config/pipeline.js';
import { ApiRunner, approxTokens, upperTokens } from './apiRunner.js';
import { extractJson } from './extract.js';
import { BatchJournal } from './batchJournal.js';
import { MessageBatcher } from './messageBatches.js';
import { costOf, priceFor } from './pricing.js';
import { ANSWER_TOOL, anthropicMode, anthropicOutput, answerItems, objectForm, schemaRefused, type AnthropicOutput } from './structured.js';
import type { SendOptions } from './transport.js';
import type { AgentRequest, AgentResult, AgentRunner } from './types.js';
import type { Usage } from './usage.js';

type Message = Anthropic.Messages.Message;

const cacheKeyOf = (model: string, intelligence: string): string => `${model}\u0000${intelligence}`;
type Params = Anthropic.Messages.MessageCreateParamsNonStreaming;

/**
 * The Anthropic Messages API through @anthropic-ai/sdk. The intelligence goes in a system block marked
 * cache_control, so batches 2..N of a phase read it from the prompt cache; the batch's task is the user
 * message. Transport failures are repeated by transport.ts within the batch's budget (the client itself
 * repeats nothing) and are not validation attempts. mode: batch sends a phase's stale batches as one
 * Message Batch at half price. A phase with a schema sends the batch schema as the output format, or as a
 * forced tool for models without structured outputs (structured.ts).
 */
export class AnthropicRunner extends ApiRunner implements AgentRunner {
  readonly pooled: boolean;
  private client: Promise<{ client: Anthropic; errors: SendOptions['errors'] }> | undefined;
  protected readonly urlEnv = 'ANTHROPIC_BASE_URL';
  protected readonly defaultUrl = 'https://api.anthropic.com';
  private batcher: MessageBatcher | undefined;
  /** Per model and intelligence: the first request, which writes the prompt cache the others then read. */
  private readonly warming = new Map<string, Promise<unknown>>();
  /** Per model and intelligence: set once an answer reported the prompt cache written or read. */
  private readonly warm = new Set<string>();

  private readonly pipelineDir: string;
  /** The SDK's transformJSONSchema (what the API's output format takes), loaded with the first schema sent. */
  private transform: Promise<(schema: JsonSchema) => JsonSchema> | undefined;

  constructor(config: ApiRunnerConfig, pipeline: Pipeline) {
    super(config, pipeline);
    this.pooled = config.mode !== 'batch';
    this.pipelineDir = pipeline.dir;
  }

  /** The client (it repeats nothing: transport.ts does, within the batch's budget) and its connection errors. */
  private getClient(): Promise<{ client: Anthropic; errors: SendOptions['errors'] }> {
    this.client ??= import('@anthropic-ai/sdk').then(({ default: Client, APIConnectionError, APIConnectionTimeoutError }) => ({
      client: new Client({ apiKey: this.keyToSend, baseURL: this.baseUrl, maxRetries: 0, timeout: this.config.timeoutMs }),
      errors: { connection: APIConnectionError, timeout: APIConnectionTimeoutError },
    }));
    return this.client;
  }

  /**
   * An upper bound: the task at full price, max_tokens of output, and the intelligence as a cache write, or
   * as a cache read once an answer of this build reported the cache warm.
   */
  estimateCost(req: AgentRequest): number | null {
    const s = this.settings(req.phase);
    const cached = this.warm.has(cacheKeyOf(s.model, req.prompt.intelligence));
    const intelligence = upperTokens(req.prompt.intelligence);
    // The schema as sent (its object form; the SDK's transform only moves keywords into descriptions).
    const schema = req.schema?.constrain && anthropicMode(this.config, s.model) !== 'off' ? upperTokens(JSON.stringify(objectForm(req.schema).schema)) : 0;
    const tokens = {
      inputTokens: upperTokens(req.prompt.task) + schema,
      cacheWriteTokens: cached ? 0 : intelligence,
      cacheReadTokens: cached ? intelligence : 0,
      outputTokens: s.maxTokens,
      ...(this.config.mode === 'batch' ? { batch: true } : {}),
    };
    return costOf(tokens, priceFor(s.model, this.prices));
  }

  /** What the request carries of the phase's schema for its model (null: none, or structured: off). */
  private async output(req: AgentRequest): Promise<AnthropicOutput | null> {
    if (!req.schema?.constrain) return null;
    const mode = anthropicMode(this.config, this.settings(req.phase).model);
    if (mode === 'off') return null;
    this.transform ??= import('@anthropic-ai/sdk/lib/transform-json-schema').then((m) => m.transformJSONSchema);
    return anthropicOutput(req.schema, mode, await this.transform);
  }

  params(req: AgentRequest, output: AnthropicOutput | null): Params {
    const s = this.settings(req.phase);
    return {
      model: s.model,
      max_tokens: s.maxTokens,
      ...(s.temperature !== undefined ? { temperature: s.temperature } : {}),
      system: [{ type: 'text', text: req.prompt.intelligence, cache_control: { type: 'ephemeral' } }],
      messages: [{ role: 'user', content: req.prompt.task }],
      ...output?.params,
    };
  }

  usageOf(message: Message, batch: boolean, repeats: number): Usage {
    const u = message.usage;
    const tokens = {
      model: message.model,
      inputTokens: u.input_tokens,
      cacheWriteTokens: u.cache_creation_input_tokens ?? 0,
      cacheReadTokens: u.cache_read_input_tokens ?? 0,
      outputTokens: u.output_tokens,
      ...(batch ? { batch: true } : {}),
      ...(repeats ? { transportRetries: repeats } : {}),
    };
    return { ...tokens, costUsd: costOf(tokens, priceFor(message.model, this.prices) ?? priceFor(this.settings('').model, this.prices)) };
  }

  /**
   * The answer of a finished message: its JSON (the forced tool's input, when the schema went as a tool),
   * or why there is none (an answer cut off is kept, as `partial`).
   */
  answer(message: Message, usage: Usage, output: AnthropicOutput | null): AgentResult {
    const tool = output?.via === 'tool' ? message.content.find((b) => b.type === 'tool_use' && b.name === ANSWER_TOOL) : undefined;
    const text = tool?.type === 'tool_use' ? JSON.stringify(tool.input) : message.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
    if (message.stop_reason === 'max_tokens') {
      return {
        ok: false,
        failure: { kind: 'api', message: `the answer was cut off at max_tokens (${message.usage.output_tokens} tokens); raise max_tokens for this phase`, fatal: false },
        usage,
        partial: text,
      };
    }
    // Structured outputs: a refusal may not follow the schema; the model may answer otherwise next time.
    if (message.stop_reason === 'refusal') return { ok: false, failure: { kind: 'output', message: `the model refused${text ? `: ${text}` : ''}` }, usage };
    return { ok: true, output: output ? answerItems(tool?.type === 'tool_use' ? tool.input : text, output.adapted) : extractJson(text), usage };
  }

  async run(req: AgentRequest): Promise<AgentResult> {
    const noKey = this.missingKey();
    if (noKey) return noKey;
    if (this.config.mode === 'batch') {
      this.batcher ??= new MessageBatcher(
        this.getClient().then((c) => c.client),
        this.config.pollIntervalMs,
        BatchJournal.forPipeline(this.pipelineDir),
        this.config.maxRetries,
      );
      const output = await this.output(req);
      return this.batcher.submit(req, this.params(req, output), (m) => this.answer(m, this.usageOf(m, true, 0), output), (e) => this.failure(e));
    }
    const output = await this.output(req);
    const params = this.params(req, output);
    // The first request of a phase goes alone: it writes the cache; the others wait and read it instead of
    // each paying to write it (1.25x) when -j starts them together. Not with a batch's schema: it comes
    // before the system prompt in the cached prefix (tools first; the output format is part of it too), so
    // another batch cannot read what this one writes (its own retries do).
    const cacheKey = cacheKeyOf(params.model, req.prompt.intelligence);
    const warm = output ? undefined : this.warming.get(cacheKey);
    let done: (() => void) | undefined;
    if (warm) await warm;
    else if (!output) this.warming.set(cacheKey, new Promise<void>((r) => (done = r)));
    try {
      const r = await this.send(req, params, output);
      if (r.usage && r.usage.cacheWriteTokens + r.usage.cacheReadTokens > 0) this.warm.add(cacheKey);
      return r;
    } finally {
      done?.();
    }
  }

  private async send(req: AgentRequest, params: Params, output: AnthropicOutput | null): Promise<AgentResult> {
    const ticket = await this.place(approxTokens(req.prompt.full) + (output ? approxTokens(JSON.stringify(output.params)) : 0) + params.max_tokens, req);
    if (!ticket) return { ok: false, failure: { kind: 'cancelled' } };
    const { client, errors } = await this.getClient();
    const r = await this.request(req, errors, (signal) => client.messages.create(params, { signal }));
    if (!r.ok) {
      ticket.release();
      const failed = this.failed(r, params.model);
      return output ? schemaRefused(failed, `structured: ${output.via === 'format' ? 'format, as output_config.format' : 'tool, as a forced tool'}`, output.via === 'format' ? 'tool or off' : 'off', this.config.name) : failed;
    }
    const usage = this.usageOf(r.value, false, r.repeats);
    ticket.release(usage.inputTokens + usage.cacheWriteTokens + usage.cacheReadTokens + usage.outputTokens);
    return this.answer(r.value, usage, output);
  }
}
