import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { approxTokens, startFakeApi, type FakeApi } from './helpers/fakeApi.js';

const INTELLIGENCE = 'You are a careful translator. '.repeat(40);
const ITEMS = [
  { id: 'S0001', text: 'seed one' },
  { id: 'S0002', text: 'seed two' },
];
const task = (items: unknown[] = ITEMS): string =>
  `## Batch context\n\n- Phase: pairs\n\n## Input items\n\n\`\`\`json\n${JSON.stringify(items, null, 2)}\n\`\`\`\n\n## Task\n\nAnswer.`;

const anthropicParams = (maxTokens = 1024): Anthropic.Messages.MessageCreateParamsNonStreaming => ({
  model: 'claude-test-1',
  max_tokens: maxTokens,
  system: [{ type: 'text', text: INTELLIGENCE, cache_control: { type: 'ephemeral' } }],
  messages: [{ role: 'user', content: task() }],
});

function textOf(m: Anthropic.Messages.Message): string {
  return m.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
}

function fencedJson(text: string): unknown {
  const m = /```json\n([\s\S]*?)\n```/.exec(text);
  if (!m) throw new Error(`no fenced json in ${text}`);
  return JSON.parse(m[1]!);
}

let api: FakeApi;
beforeEach(async () => {
  api = await startFakeApi();
});
afterEach(async () => {
  await api.close();
});

const anthropic = (opts: { maxRetries?: number; timeout?: number } = {}): Anthropic =>
  new Anthropic({ apiKey: 'sk-ant-test', baseURL: api.url, maxRetries: opts.maxRetries ?? 2, ...(opts.timeout ? { timeout: opts.timeout } : {}) });
const openai = (maxRetries = 2): OpenAI => new OpenAI({ apiKey: 'sk-openai-test', baseURL: `${api.url}/v1`, maxRetries });

describe('fake Anthropic Messages API', () => {
  it('answers with the input items, writes the prompt cache on the first call and reads it on the second', async () => {
    const client = anthropic();
    const first = await client.messages.create(anthropicParams());
    const second = await client.messages.create(anthropicParams());

    expect(first.type).toBe('message');
    expect(first.role).toBe('assistant');
    expect(first.model).toBe('claude-test-1');
    expect(first.stop_reason).toBe('end_turn');
    expect(fencedJson(textOf(first))).toEqual(ITEMS.map((i) => ({ ...i, answered: true })));

    const cacheTokens = approxTokens(INTELLIGENCE);
    expect(first.usage.cache_creation_input_tokens).toBe(cacheTokens);
    expect(first.usage.cache_read_input_tokens).toBe(0);
    expect(second.usage.cache_creation_input_tokens).toBe(0);
    expect(second.usage.cache_read_input_tokens).toBe(cacheTokens);
    expect(first.usage.input_tokens).toBe(approxTokens(task()));
    expect(first.usage.output_tokens).toBe(approxTokens(textOf(first)));

    expect(api.requests).toHaveLength(2);
    const r = api.requests[0]!;
    expect(r.method).toBe('POST');
    expect(r.path).toBe('/v1/messages');
    expect(r.body.model).toBe('claude-test-1');
    expect(r.body.max_tokens).toBe(1024);
    expect(r.body.system[0].cache_control).toEqual({ type: 'ephemeral' });
    // @anthropic-ai/sdk 1.12 sends the apiKey as a bearer token, not as x-api-key.
    expect(r.headers['authorization']).toBe('Bearer sk-ant-test');
    expect(r.headers['x-api-key']).toBeUndefined();
    expect(r.headers['anthropic-version']).toBeTruthy();
    expect(r.headers['content-type']).toMatch(/application\/json/);
  });

  it('a different cached system text writes its own cache entry', async () => {
    const client = anthropic();
    await client.messages.create(anthropicParams());
    const other = await client.messages.create({ ...anthropicParams(), system: [{ type: 'text', text: 'other rules', cache_control: { type: 'ephemeral' } }] });
    expect(other.usage.cache_creation_input_tokens).toBe(approxTokens('other rules'));
    expect(other.usage.cache_read_input_tokens).toBe(0);
  });

  it('cuts the answer off at max_tokens', async () => {
    const m = await anthropic().messages.create(anthropicParams(5));
    expect(m.stop_reason).toBe('max_tokens');
    expect(m.usage.output_tokens).toBe(5);
    expect(textOf(m).length).toBeLessThanOrEqual(20);
  });

  it('uses a custom answer and answers [] without input items', async () => {
    const client = anthropic();
    const none = await client.messages.create({ ...anthropicParams(), messages: [{ role: 'user', content: 'hello' }] });
    expect(fencedJson(textOf(none))).toEqual([]);
    api.answer = (body) => `model was ${body.model}`;
    expect(textOf(await client.messages.create(anthropicParams()))).toBe('model was claude-test-1');
  });

  it('retries a 429 after its retry-after (seconds) and succeeds', async () => {
    api.enqueue('messages', { status: 429, headers: { 'retry-after': '1' } });
    const t0 = Date.now();
    const m = await anthropic({ maxRetries: 1 }).messages.create(anthropicParams());
    const elapsed = Date.now() - t0;
    expect(m.type).toBe('message');
    expect(elapsed).toBeGreaterThanOrEqual(950);
    expect(elapsed).toBeLessThan(3000);
    expect(api.requests.map((r) => r.headers['x-stainless-retry-count'])).toEqual(['0', '1']);
  });

  it('retries a connection reset, 529 overloaded (retry-after-ms) and 500 (retry-after)', async () => {
    // A reset carries no retry-after, so the SDK backs off 0.5 s × 2^n (minus up to 25 % jitter): reset first keeps it short.
    api.enqueue('messages', { reset: true }, { status: 529, headers: { 'retry-after-ms': '50' } }, { status: 500, headers: { 'retry-after': '0.05' } });
    const m = await anthropic({ maxRetries: 3 }).messages.create(anthropicParams());
    expect(m.stop_reason).toBe('end_turn');
    expect(api.requests).toHaveLength(4);
    expect(api.requests.map((r) => r.headers['x-stainless-retry-count'])).toEqual(['0', '1', '2', '3']);
  });

  it('surfaces the real error shapes once retries run out', async () => {
    const client = anthropic({ maxRetries: 0 });
    api.enqueue('messages', { status: 429, headers: { 'retry-after': '1' } });
    const e429 = await client.messages.create(anthropicParams()).catch((e: unknown) => e);
    expect(e429).toBeInstanceOf(Anthropic.RateLimitError);
    expect((e429 as InstanceType<typeof Anthropic.APIError>).status).toBe(429);
    expect((e429 as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    expect((e429 as InstanceType<typeof Anthropic.APIError>).headers?.get('retry-after')).toBe('1');

    api.enqueue('messages', { status: 529 });
    const e529 = await client.messages.create(anthropicParams()).catch((e: unknown) => e);
    expect((e529 as InstanceType<typeof Anthropic.APIError>).status).toBe(529);
    expect((e529 as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ error: { type: 'overloaded_error' } });

    api.enqueue('any', { reset: true });
    const reset = await client.messages.create(anthropicParams()).catch((e: unknown) => e);
    expect(reset).toBeInstanceOf(Anthropic.APIConnectionError);

    api.enqueue('messages', { status: 400, body: { type: 'error', error: { type: 'invalid_request_error', message: 'bad thing' } } });
    const e400 = await client.messages.create(anthropicParams()).catch((e: unknown) => e);
    expect(e400).toBeInstanceOf(Anthropic.BadRequestError);
    expect((e400 as Error).message).toContain('bad thing');
  });

  it('a delayed reply trips the client timeout, which is retried', async () => {
    api.enqueue('messages', { status: 200, delayMs: 2000 });
    const m = await anthropic({ maxRetries: 1, timeout: 300 }).messages.create(anthropicParams());
    expect(m.type).toBe('message');
    expect(api.requests).toHaveLength(2);
  });
});

describe('fake Anthropic Message Batches API', () => {
  it('creates a batch, ends it after the polls, and streams the results (one errored)', async () => {
    const client = anthropic();
    api.batchPollsBeforeEnd = 2;
    api.batchResult = (customId) => (customId === 'pairs-2-a1' ? 'errored' : 'succeeded');
    const requests = [1, 2, 3].map((k) => ({ custom_id: `pairs-${k}-a1`, params: { ...anthropicParams(), messages: [{ role: 'user' as const, content: task([{ id: `S${k}` }]) }] } }));
    const batch = await client.messages.batches.create({ requests });
    expect(batch.id).toMatch(/^msgbatch_/);
    expect(batch.type).toBe('message_batch');
    expect(batch.processing_status).toBe('in_progress');
    expect(batch.request_counts).toEqual({ processing: 3, succeeded: 0, errored: 0, canceled: 0, expired: 0 });
    expect(batch.results_url).toBeNull();

    const statuses: string[] = [];
    let b = batch;
    while (b.processing_status !== 'ended') {
      b = await client.messages.batches.retrieve(batch.id);
      statuses.push(b.processing_status);
    }
    expect(statuses).toEqual(['in_progress', 'ended']);
    expect(b.request_counts).toEqual({ processing: 0, succeeded: 2, errored: 1, canceled: 0, expired: 0 });
    expect(b.results_url).toBe(`${api.url}/v1/messages/batches/${batch.id}/results`);
    expect(b.ended_at).not.toBeNull();

    const results: Anthropic.Messages.MessageBatchIndividualResponse[] = [];
    for await (const r of await client.messages.batches.results(batch.id)) results.push(r);
    expect(results.map((r) => r.custom_id)).toEqual(['pairs-1-a1', 'pairs-2-a1', 'pairs-3-a1']);
    const [one, two, three] = results;
    if (one?.result.type !== 'succeeded' || three?.result.type !== 'succeeded') throw new Error('expected succeeded');
    expect(fencedJson(textOf(one.result.message))).toEqual([{ id: 'S1', answered: true }]);
    expect(one.result.message.usage.cache_creation_input_tokens).toBe(approxTokens(INTELLIGENCE));
    expect(three.result.message.usage.cache_read_input_tokens).toBe(approxTokens(INTELLIGENCE));
    expect(two?.result.type).toBe('errored');
    if (two?.result.type === 'errored') expect(two.result.error.error.message).toBeTruthy();

    expect(api.requests[0]!.body.requests[0].params.system[0].cache_control).toEqual({ type: 'ephemeral' });
    // results() retrieves the batch first, then GETs results_url with Accept: application/binary.
    const last = api.requests.at(-1)!;
    expect(last.path).toBe(`/v1/messages/batches/${batch.id}/results`);
    expect(last.headers['accept']).toBe('application/binary');
    expect(last.headers['authorization']).toBe('Bearer sk-ant-test');
  });

  it('retries a 429 on batch create, and cancel ends a batch with canceled results', async () => {
    const client = anthropic();
    api.batchPollsBeforeEnd = 100;
    api.enqueue('batches', { status: 429, headers: { 'retry-after-ms': '20' } });
    const batch = await client.messages.batches.create({ requests: [{ custom_id: 'x', params: anthropicParams() }] });
    const canceling = await client.messages.batches.cancel(batch.id);
    expect(canceling.processing_status).toBe('canceling');
    const ended = await client.messages.batches.retrieve(batch.id);
    expect(ended.processing_status).toBe('ended');
    expect(ended.request_counts.canceled).toBe(1);
    const results = [];
    for await (const r of await client.messages.batches.results(batch.id)) results.push(r.result.type);
    expect(results).toEqual(['canceled']);
  });

  it('an unknown batch is a 404 NotFoundError', async () => {
    const e = await anthropic().messages.batches.retrieve('msgbatch_nope').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(Anthropic.NotFoundError);
  });
});

describe('fake OpenAI Chat Completions API', () => {
  const chatParams = (maxTokens = 1024): OpenAI.Chat.ChatCompletionCreateParamsNonStreaming => ({
    model: 'gpt-test',
    max_tokens: maxTokens,
    messages: [
      { role: 'system', content: INTELLIGENCE },
      { role: 'user', content: task() },
    ],
  });

  it('answers, reports usage with cached tokens on the repeated system prompt, and gets the bearer key', async () => {
    const client = openai();
    const first = await client.chat.completions.create(chatParams());
    const second = await client.chat.completions.create(chatParams());
    expect(first.object).toBe('chat.completion');
    expect(first.model).toBe('gpt-test');
    const choice = first.choices[0]!;
    expect(choice.finish_reason).toBe('stop');
    expect(fencedJson(choice.message.content ?? '')).toEqual(ITEMS.map((i) => ({ ...i, answered: true })));

    const prompt = approxTokens(INTELLIGENCE) + approxTokens(task());
    expect(first.usage?.prompt_tokens).toBe(prompt);
    expect(first.usage?.completion_tokens).toBe(approxTokens(choice.message.content ?? ''));
    expect(first.usage?.total_tokens).toBe(prompt + (first.usage?.completion_tokens ?? 0));
    expect(first.usage?.prompt_tokens_details?.cached_tokens).toBe(0);
    expect(second.usage?.prompt_tokens_details?.cached_tokens).toBe(approxTokens(INTELLIGENCE));

    const r = api.requests[0]!;
    expect(r.path).toBe('/v1/chat/completions');
    expect(r.headers['authorization']).toBe('Bearer sk-openai-test');
    expect(r.body.max_tokens).toBe(1024);
    expect(r.body.messages[0]).toEqual({ role: 'system', content: INTELLIGENCE });
  });

  it('finish_reason "length" when max_tokens is too small', async () => {
    const c = await openai().chat.completions.create(chatParams(3));
    expect(c.choices[0]!.finish_reason).toBe('length');
    expect(c.usage?.completion_tokens).toBe(3);
  });

  it('retries a 429 and a connection reset, and surfaces the OpenAI error shape', async () => {
    api.enqueue('chat', { status: 429, headers: { 'retry-after': '0.05' } }, { reset: true });
    const c = await openai(2).chat.completions.create(chatParams());
    expect(c.choices[0]!.message.role).toBe('assistant');
    expect(api.requests).toHaveLength(3);

    api.enqueue('chat', { status: 429 });
    const e = await openai(0).chat.completions.create(chatParams()).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OpenAI.RateLimitError);
    const err = e as InstanceType<typeof OpenAI.APIError>;
    expect(err.status).toBe(429);
    expect(err.code).toBe('rate_limit_exceeded');
    expect(err.error).toMatchObject({ type: 'requests', code: 'rate_limit_exceeded' });
  });

  it('the queue keeps kinds apart: a chat reply does not hit a messages call', async () => {
    api.enqueue('chat', { status: 500 });
    const m = await anthropic({ maxRetries: 0 }).messages.create(anthropicParams());
    expect(m.type).toBe('message');
    const e = await openai(0).chat.completions.create(chatParams()).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OpenAI.InternalServerError);
  });
});
