import type { ApiRunnerConfig, JsonSchema } from '../../config/pipeline.js';
import { looseSchema } from '../schema/loose.js';
import type { ProviderSchema } from '../schema/providerSchema.js';
import { strictSchema } from '../schema/strict.js';
import { extractJson } from './extract.js';
import type { AgentResult, AttemptSchema } from './types.js';

/*
 * Structured outputs: what an API runner sends of a phase's schema so that the model's decoding is held to
 * the batch schema (the run's items, in order, each id a const), per runner `structured:`, and the way back
 * from what the model decoded to the batch's JSON array. cf checks that array in full itself (validate.ts,
 * schema/validator.ts) whatever was sent: an adapter may loosen what a provider cannot enforce.
 *
 * The mode is keyed for a phase whose schema is (engine/fingerprint.ts): it shapes the answers. It is read
 * from pipeline.yaml alone, never from the environment, so that keys are the same on every machine.
 */

export type OpenAiMode = 'strict' | 'loose' | 'off';
export type AnthropicMode = 'format' | 'tool' | 'off';

/**
 * An openai runner's mode: `structured:`, else strict for OpenAI itself (no base_url, or api.openai.com)
 * and loose for any other server (llama.cpp, vLLM, Ollama, a proxy), whose grammars take less of JSON
 * Schema than OpenAI's strict mode and want other adaptations of it (schema/loose.ts). OPENAI_BASE_URL is
 * not read: a runner pointed elsewhere through the environment says `structured: loose` (or base_url).
 */
export function openAiMode(config: Pick<ApiRunnerConfig, 'structured' | 'baseUrl'>): OpenAiMode {
  if (config.structured === 'strict' || config.structured === 'loose' || config.structured === 'off') return config.structured;
  if (config.baseUrl === null) return 'strict';
  try {
    return new URL(config.baseUrl).hostname === 'api.openai.com' ? 'strict' : 'loose';
  } catch {
    return 'loose';
  }
}

/**
 * Claude models from before structured outputs (Claude 2 and 3.x, Opus 4 and 4.1, Sonnet 4): the Messages
 * API refuses output_config.format for them. Structured outputs are documented for Claude Haiku 4.5, Sonnet
 * 4.5, Opus 4.5 and every model since.
 */
const BEFORE_STRUCTURED = /^claude-(?:instant|2|3)|^claude-(?:opus|sonnet)-4(?:-[01])?(?:-\d{8}|-latest)?$/;

/** Whether a model takes `output_config.format` (a Claude model since Haiku/Sonnet/Opus 4.5); any other name: no. */
export function takesOutputFormat(model: string): boolean {
  return model.startsWith('claude-') && !BEFORE_STRUCTURED.test(model);
}

/** An anthropic runner's mode for a model: `structured:`, else format for models that take it, a forced tool for the others. */
export function anthropicMode(config: Pick<ApiRunnerConfig, 'structured'>, model: string): AnthropicMode {
  if (config.structured === 'format' || config.structured === 'tool' || config.structured === 'off') return config.structured;
  return takesOutputFormat(model) ? 'format' : 'tool';
}

/** A name for the schema (OpenAI's json_schema.name: [A-Za-z0-9_-]{1,64}): the phase's. */
export function schemaName(phase: string): string {
  return phase.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64) || 'items';
}

const objectForms = new WeakMap<AttemptSchema, ProviderSchema>();

/**
 * The batch in object form (strictSchema: one property per item id, in order, the item schema once in
 * $defs), made once per attempt's schema: a runner reads it for its cost estimate, its request and the way
 * back from the answer.
 */
export function objectForm(s: AttemptSchema): ProviderSchema {
  let form = objectForms.get(s);
  if (!form) objectForms.set(s, (form = strictSchema(s.batch, s.idField)));
  return form;
}

/** OpenAI's response_format for this attempt's items, and the way back from its answer (null: off). */
export function openAiFormat(s: AttemptSchema, mode: OpenAiMode, phase: string): { responseFormat: OpenAiResponseFormat; adapted: ProviderSchema } | null {
  if (mode === 'off') return null;
  const adapted = mode === 'strict' ? objectForm(s) : looseSchema(s.batch);
  return { responseFormat: { type: 'json_schema', json_schema: { name: schemaName(phase), strict: adapted.strict, schema: adapted.schema } }, adapted };
}

export interface OpenAiResponseFormat {
  type: 'json_schema';
  json_schema: { name: string; strict: boolean; schema: JsonSchema };
}

/** The forced tool's name: the answer is its input. */
export const ANSWER_TOOL = 'answer';

export type AnthropicOutput =
  | { via: 'format'; params: { output_config: { format: { type: 'json_schema'; schema: JsonSchema } } }; adapted: ProviderSchema }
  | {
      via: 'tool';
      params: { tools: Array<{ name: string; description: string; input_schema: JsonSchema & { type: 'object' } }>; tool_choice: { type: 'tool'; name: string } };
      adapted: ProviderSchema;
    };

/**
 * What an anthropic request carries of this attempt's schema (null: off). Both forms send the batch in
 * object form (strictSchema: one property per item id, in order; the API wants an object at the root).
 * format: `output_config.format`, constrained decoding; the schema as the SDK's own transform leaves it
 * (keywords the API does not enforce, such as minLength or maxItems, move into descriptions). A schema
 * with no strict form (a free-form object) cannot be decoded that way: it goes as a tool. tool: a forced
 * tool whose input_schema is the batch (guidance the model follows; no constrained decoding).
 * `transform`: the SDK's transformJSONSchema, loaded with the client.
 */
export function anthropicOutput(s: AttemptSchema, mode: AnthropicMode, transform: (schema: JsonSchema) => JsonSchema): AnthropicOutput | null {
  if (mode === 'off') return null;
  const adapted = objectForm(s);
  if (mode === 'format' && adapted.strict) {
    return { via: 'format', params: { output_config: { format: { type: 'json_schema', schema: transform(adapted.schema) } } }, adapted };
  }
  const tool = {
    name: ANSWER_TOOL,
    description: `Hand in the answer: the output item of every input item, under its ${s.idField}, in the order given.`,
    input_schema: adapted.schema as JsonSchema & { type: 'object' },
  };
  return { via: 'tool', params: { tools: [tool], tool_choice: { type: 'tool', name: ANSWER_TOOL } }, adapted };
}

/**
 * What a model decoded against an adapted schema → the batch's JSON array, as the text cf checks (one
 * item a line). Text that is not JSON is left for the checks to report (a fenced block is looked for first).
 */
export function answerItems(answer: string | unknown, adapted: ProviderSchema): string {
  let value: unknown = answer;
  if (typeof answer === 'string') {
    const text = extractJson(answer);
    try {
      value = JSON.parse(text);
    } catch {
      return text;
    }
  }
  const items = adapted.toItems(value);
  return Array.isArray(items) ? (items.length ? `[\n${items.map((it) => JSON.stringify(it)).join(',\n')}\n]` : '[]') : JSON.stringify(items);
}

/**
 * A request carrying a schema that the server refused as invalid (HTTP 400 or 422: a schema it cannot turn
 * into a grammar, a keyword it does not take): the failure says what was sent and which setting to change.
 */
export function schemaRefused(r: AgentResult, sent: string, instead: string, runner: string): AgentResult {
  if (r.ok || r.failure.kind !== 'api' || !/^HTTP 4(00|22)\b/.test(r.failure.message)) return r;
  const hint = `the request carried the phase's schema (${sent}): if the server does not take it, set structured: ${instead} on runner ${runner}`;
  return { ...r, failure: { ...r.failure, message: `${r.failure.message} (${hint})` } };
}
