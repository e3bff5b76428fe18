/**
 * A fake Anthropic + OpenAI HTTP API for tests, on 127.0.0.1 (any free port).
 *
 * It answers closely enough to the real services that the real SDK clients work against it:
 *   new Anthropic({ apiKey: 'k', baseURL: api.url })
 *   new OpenAI({ apiKey: 'k', baseURL: `${api.url}/v1` })
 *
 * Endpoints: POST /v1/messages, POST|GET /v1/messages/batches, GET /v1/messages/batches/:id,
 * POST /v1/messages/batches/:id/cancel, GET /v1/messages/batches/:id/results (JSONL),
 * POST /v1/chat/completions. Anything else answers 404 in the API's error shape.
 *
 * Token counts are estimates: ceil(characters / 4).
 *
 * Structured outputs: a request's schema (OpenAI's response_format, Anthropic's output_config.format or
 * tools) counts as input and is part of the prompt cache's prefix, before the system prompt, as the
 * providers document it (OpenAI: "the schema serves as a prefix to the system message"; Anthropic: tools
 * come first). A request forcing a tool (tool_choice {type: tool}) is answered with a tool_use block whose
 * input is the answer parsed as JSON. `answer = standInModel(...)` (schemaModel.ts) obeys a schema.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sentSchema } from './schemaModel.js';

export interface RecordedRequest {
  method: string;
  /** The URL path without the query string, e.g. "/v1/messages". */
  path: string;
  /** Lower-cased header names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** The parsed JSON body; undefined when there was none; the raw text when it was not JSON. */
  body: any;
}

export type Reply =
  /**
   * An HTTP answer. Without `body`, a status >= 400 gets the API's real error body for that status
   * (Anthropic or OpenAI shape, by path) and a status < 400 gets the default handler's answer with this
   * status and these headers added. `delayMs` holds the answer back (e.g. to trip a client timeout).
   */
  | { status: number; headers?: Record<string, string>; body?: unknown; delayMs?: number }
  /** Destroy the socket without answering (the client sees a connection reset / "other side closed"). */
  | { reset: true };

export type ReplyKind = 'messages' | 'chat' | 'batches' | 'any';

export interface AnthropicUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

export type BatchOutcome = 'succeeded' | 'errored' | 'expired' | 'canceled';

export interface FakeApi {
  /** http://127.0.0.1:PORT (no trailing slash). */
  url: string;
  /** Every request, in arrival order (including ones answered from the queue or reset). */
  requests: RecordedRequest[];
  /**
   * Queue one-off replies for the next matching requests; they are used before the default handler, in order.
   * 'messages' = POST /v1/messages, 'chat' = POST /v1/chat/completions, 'batches' = any /v1/messages/batches…
   * request, 'any' = every request.
   */
  enqueue(kind: ReplyKind, ...replies: Reply[]): void;
  /** How a successful model call answers: given the request body, return the assistant text. */
  answer: (body: any, kind: 'messages' | 'chat') => string;
  /**
   * Usage reported for a successful Anthropic message (`text` is the final, possibly truncated answer).
   * The default models prompt caching on the system blocks marked cache_control (see defaultUsage).
   */
  usage: (body: any, text: string) => AnthropicUsage;
  /** Message batches: how many GET polls (retrieve) before processing_status becomes "ended" (default 1). */
  batchPollsBeforeEnd: number;
  /** How each request of a Message Batch comes out (default: succeeded). */
  batchResult?: (customId: string, params: any) => BatchOutcome;
  /**
   * Whether a request's schema is part of its prompt (default true: OpenAI's and Anthropic's APIs). False: a
   * local server (llama.cpp, vLLM, Ollama), which compiles it into a grammar for sampling: it is neither
   * input tokens nor part of the cached prefix.
   */
  schemaInPrompt: boolean;
  /** Forget what the prompt caches hold (both APIs). */
  resetCache(): void;
  /** Resolves with the first request (already arrived, or the next to arrive) that matches. */
  waitFor(match: (r: RecordedRequest) => boolean): Promise<RecordedRequest>;
  close(): Promise<void>;
}

/** ceil(characters / 4), the fake's token estimate. */
export function approxTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** The text of a message's content: a string, or the text of its text blocks. */
function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((b: any) => (b && typeof b === 'object' && typeof b.text === 'string' ? b.text : ''))
      .join('');
  }
  return '';
}

function lastUserText(messages: unknown): string {
  if (!Array.isArray(messages)) return '';
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i] as any;
    if (m?.role === 'user') return contentText(m.content);
  }
  return '';
}

/**
 * The default answer: parse the array in the "```json" fenced block under "## Input items" of the user
 * message (or the first such block anywhere) and answer with one object per item, `{...item, answered: true}`,
 * in a ```json fenced block. Without such a block: "```json\n[]\n```".
 */
export function defaultAnswer(body: any, _kind: 'messages' | 'chat'): string {
  const user = lastUserText(body?.messages);
  const fence = /```json\s*\n([\s\S]*?)\n```/;
  const idx = user.indexOf('## Input items');
  const m = (idx >= 0 ? fence.exec(user.slice(idx)) : null) ?? fence.exec(user);
  let items: unknown[] = [];
  if (m?.[1] !== undefined) {
    try {
      const parsed: unknown = JSON.parse(m[1]);
      if (Array.isArray(parsed)) items = parsed;
    } catch {
      items = [];
    }
  }
  const out = items.map((it) => (it && typeof it === 'object' && !Array.isArray(it) ? { ...(it as object), answered: true } : { value: it, answered: true }));
  return `\`\`\`json\n${JSON.stringify(out, null, 2)}\n\`\`\``;
}

const ANTHROPIC_ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  408: 'timeout_error',
  409: 'conflict_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

const ERROR_MESSAGES: Record<number, string> = {
  400: 'Invalid request.',
  401: 'Invalid API key.',
  403: 'Permission denied.',
  404: 'Not found.',
  429: 'Rate limit exceeded, please retry later.',
  500: 'Internal server error.',
  503: 'Service unavailable.',
  529: 'Overloaded',
};

function anthropicError(status: number, message?: string, requestId: string | null = null): unknown {
  const type = ANTHROPIC_ERROR_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
  return { type: 'error', error: { type, message: message ?? ERROR_MESSAGES[status] ?? `HTTP ${status}` }, request_id: requestId };
}

function openaiError(status: number, message?: string): unknown {
  const [type, code]: [string, string | null] =
    status === 429
      ? ['requests', 'rate_limit_exceeded']
      : status === 401
        ? ['invalid_request_error', 'invalid_api_key']
        : status === 404
          ? ['invalid_request_error', 'not_found']
          : status >= 500
            ? ['server_error', null]
            : ['invalid_request_error', null];
  return { error: { message: message ?? ERROR_MESSAGES[status] ?? `HTTP ${status}`, type, param: null, code } };
}

interface StoredBatch {
  id: string;
  requests: Array<{ custom_id: string; params: any }>;
  polls: number;
  status: 'in_progress' | 'canceling' | 'ended';
  created_at: string;
  expires_at: string;
  ended_at: string | null;
  cancel_initiated_at: string | null;
  results: Array<{ custom_id: string; result: unknown }> | null;
}

function kindOf(method: string, path: string): Exclude<ReplyKind, 'any'> | 'other' {
  if (path.startsWith('/v1/messages/batches')) return 'batches';
  if (method === 'POST' && path === '/v1/messages') return 'messages';
  if (method === 'POST' && path === '/v1/chat/completions') return 'chat';
  return 'other';
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startFakeApi(): Promise<FakeApi> {
  const queue: Array<{ kind: ReplyKind; reply: Reply }> = [];
  const anthropicCache = new Set<string>();
  const chatCache = new Set<string>();
  const batches = new Map<string, StoredBatch>();
  let seq = 0;
  const nextId = (prefix: string): string => `${prefix}${String(++seq).padStart(6, '0')}fake`;

  /** Prompt caching for Anthropic: the system prefix up to the last block marked cache_control. */
  const defaultUsage = (body: any, text: string): AnthropicUsage => {
    const system: any[] = typeof body?.system === 'string' ? [{ type: 'text', text: body.system }] : Array.isArray(body?.system) ? body.system : [];
    let lastCached = -1;
    system.forEach((b, i) => {
      if (b && typeof b === 'object' && b.cache_control) lastCached = i;
    });
    // Tools and the output format come before the system prompt: in the cached prefix when a block is marked.
    const schemaText = schemaPrefix(body);
    const cachedText = lastCached >= 0 ? schemaText + system.slice(0, lastCached + 1).map((b) => contentText([b])).join('') : '';
    const uncachedSystem = (lastCached >= 0 ? '' : schemaText) + system.slice(lastCached + 1).map((b) => contentText([b])).join('');
    const messagesText = Array.isArray(body?.messages) ? body.messages.map((m: any) => contentText(m?.content)).join('') : '';
    const cachedTokens = lastCached >= 0 ? approxTokens(cachedText) : 0;
    let write = 0;
    let read = 0;
    if (cachedTokens > 0) {
      const key = `${String(body?.model)}\u0000${cachedText}`;
      if (anthropicCache.has(key)) read = cachedTokens;
      else {
        anthropicCache.add(key);
        write = cachedTokens;
      }
    }
    return {
      input_tokens: approxTokens(uncachedSystem + messagesText),
      output_tokens: approxTokens(text),
      cache_creation_input_tokens: write,
      cache_read_input_tokens: read,
    };
  };

  /** What a request sends of a schema (response_format, output_config, tools), as the text it adds to the prompt. */
  const schemaPrefix = (body: any): string => {
    const parts = [body?.tools, body?.tool_choice, body?.output_config, body?.response_format].filter((x) => x !== undefined);
    return parts.length && api.schemaInPrompt ? JSON.stringify(parts) : '';
  };

  const waiters: Array<{ match: (r: RecordedRequest) => boolean; resolve: (r: RecordedRequest) => void }> = [];
  const api: FakeApi = {
    url: '',
    requests: [],
    enqueue(kind, ...replies) {
      for (const reply of replies) queue.push({ kind, reply });
    },
    answer: defaultAnswer,
    usage: defaultUsage,
    batchPollsBeforeEnd: 1,
    schemaInPrompt: true,
    resetCache() {
      anthropicCache.clear();
      chatCache.clear();
    },
    waitFor(match) {
      const seen = api.requests.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve) => waiters.push({ match, resolve }));
    },
    close: async () => undefined,
  };

  /** A finished Anthropic Message for a request body. */
  const message = (body: any, serviceTier: 'standard' | 'batch'): unknown => {
    let text = api.answer(body, 'messages');
    const tool = sentSchema(body)?.via === 'tool' ? String(body.tool_choice.name) : null;
    let stopReason = tool ? 'tool_use' : 'end_turn';
    const maxTokens = body?.max_tokens;
    if (typeof maxTokens === 'number' && maxTokens < approxTokens(text)) {
      text = text.slice(0, Math.max(0, maxTokens) * 4);
      stopReason = 'max_tokens';
    }
    const u = api.usage(body, text);
    let input: unknown = {};
    try {
      input = JSON.parse(text);
    } catch {
      // cut off: the tool's input as far as it parses (nothing)
    }
    return {
      id: nextId('msg_'),
      type: 'message',
      role: 'assistant',
      model: body?.model ?? 'unknown-model',
      content: tool ? [{ type: 'tool_use', id: nextId('toolu_'), name: tool, input }] : [{ type: 'text', text, citations: null }],
      stop_reason: stopReason,
      stop_sequence: null,
      stop_details: null,
      container: null,
      diagnostics: null,
      usage: {
        ...u,
        cache_creation: { ephemeral_5m_input_tokens: u.cache_creation_input_tokens, ephemeral_1h_input_tokens: 0 },
        server_tool_use: null,
        service_tier: serviceTier,
        inference_geo: null,
        output_tokens_details: null,
        speed: null,
      },
    };
  };

  const chatCompletion = (body: any): unknown => {
    let text = api.answer(body, 'chat');
    let finish = 'stop';
    const limit = typeof body?.max_completion_tokens === 'number' ? body.max_completion_tokens : body?.max_tokens;
    if (typeof limit === 'number' && limit < approxTokens(text)) {
      text = text.slice(0, Math.max(0, limit) * 4);
      finish = 'length';
    }
    const messages: any[] = Array.isArray(body?.messages) ? body.messages : [];
    const isSystem = (m: any): boolean => m?.role === 'system' || m?.role === 'developer';
    // The schema of response_format is a prefix of the system message (and cached with it).
    const systemText = schemaPrefix(body) + messages.filter(isSystem).map((m) => contentText(m.content)).join('');
    const restText = messages.filter((m) => !isSystem(m)).map((m) => contentText(m?.content)).join('');
    const systemTokens = approxTokens(systemText);
    let cached = 0;
    if (systemTokens > 0) {
      const key = `${String(body?.model)}\u0000${systemText}`;
      if (chatCache.has(key)) cached = systemTokens;
      else chatCache.add(key);
    }
    const prompt = systemTokens + approxTokens(restText);
    const completion = approxTokens(text);
    return {
      id: nextId('chatcmpl-'),
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: body?.model ?? 'unknown-model',
      choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null, annotations: [] }, finish_reason: finish, logprobs: null }],
      usage: {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
        prompt_tokens_details: { cached_tokens: cached, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
      },
      service_tier: 'default',
      system_fingerprint: 'fp_fake',
    };
  };

  const batchView = (b: StoredBatch): unknown => {
    const counts = { processing: 0, succeeded: 0, errored: 0, canceled: 0, expired: 0 };
    if (b.results) {
      for (const r of b.results) counts[(r.result as { type: BatchOutcome }).type]++;
    } else counts.processing = b.requests.length;
    return {
      id: b.id,
      type: 'message_batch',
      processing_status: b.status,
      request_counts: counts,
      created_at: b.created_at,
      expires_at: b.expires_at,
      ended_at: b.ended_at,
      cancel_initiated_at: b.cancel_initiated_at,
      archived_at: null,
      results_url: b.status === 'ended' ? `${api.url}/v1/messages/batches/${b.id}/results` : null,
    };
  };

  const endBatch = (b: StoredBatch): void => {
    const canceled = b.status === 'canceling';
    b.results = b.requests.map(({ custom_id, params }) => {
      const outcome: BatchOutcome = canceled ? 'canceled' : (api.batchResult?.(custom_id, params) ?? 'succeeded');
      switch (outcome) {
        case 'succeeded':
          return { custom_id, result: { type: 'succeeded', message: message(params, 'batch') } };
        case 'errored':
          return { custom_id, result: { type: 'errored', error: anthropicError(500, 'The request errored in the fake batch.', nextId('req_')) } };
        default:
          return { custom_id, result: { type: outcome } };
      }
    });
    b.status = 'ended';
    b.ended_at = new Date().toISOString();
  };

  type Out = { status: number; body: unknown; headers?: Record<string, string>; raw?: string };

  const handleDefault = (method: string, path: string, body: any): Out => {
    const isOpenAI = !path.startsWith('/v1/messages');
    const notFound = (msg: string): Out => ({ status: 404, body: isOpenAI ? openaiError(404, msg) : anthropicError(404, msg) });
    const invalid = (msg: string): Out => ({ status: 400, body: isOpenAI ? openaiError(400, msg) : anthropicError(400, msg) });

    if (method === 'POST' && path === '/v1/messages') {
      if (!body || typeof body !== 'object' || !Array.isArray(body.messages)) return invalid('messages: Field required');
      return { status: 200, body: message(body, 'standard') };
    }
    if (method === 'POST' && path === '/v1/chat/completions') {
      if (!body || typeof body !== 'object' || !Array.isArray(body.messages)) return invalid("Missing required parameter: 'messages'.");
      return { status: 200, body: chatCompletion(body) };
    }
    if (path === '/v1/messages/batches') {
      if (method === 'POST') {
        if (!body || !Array.isArray(body.requests) || body.requests.length === 0) return invalid('requests: Field required');
        const now = Date.now();
        const b: StoredBatch = {
          id: nextId('msgbatch_'),
          requests: body.requests.map((r: any) => ({ custom_id: String(r?.custom_id), params: r?.params })),
          polls: 0,
          status: 'in_progress',
          created_at: new Date(now).toISOString(),
          expires_at: new Date(now + 24 * 3600 * 1000).toISOString(),
          ended_at: null,
          cancel_initiated_at: null,
          results: null,
        };
        batches.set(b.id, b);
        return { status: 200, body: batchView(b) };
      }
      if (method === 'GET') {
        const data = [...batches.values()].reverse().map(batchView) as Array<{ id: string }>;
        return { status: 200, body: { data, has_more: false, first_id: data[0]?.id ?? null, last_id: data[data.length - 1]?.id ?? null } };
      }
    }
    const m = /^\/v1\/messages\/batches\/([^/]+)(\/results|\/cancel)?$/.exec(path);
    if (m) {
      const b = batches.get(decodeURIComponent(m[1]!));
      if (!b) return notFound(`No message batch with id ${m[1]}.`);
      if (method === 'GET' && !m[2]) {
        b.polls++;
        if (b.status !== 'ended' && (b.status === 'canceling' || b.polls >= api.batchPollsBeforeEnd)) endBatch(b);
        return { status: 200, body: batchView(b) };
      }
      if (method === 'POST' && m[2] === '/cancel') {
        if (b.status === 'in_progress') {
          b.status = 'canceling';
          b.cancel_initiated_at = new Date().toISOString();
        }
        return { status: 200, body: batchView(b) };
      }
      if (method === 'GET' && m[2] === '/results') {
        if (!b.results) return notFound(`Message batch ${b.id} has not finished processing.`);
        const raw = b.results.map((r) => JSON.stringify(r)).join('\n') + '\n';
        return { status: 200, body: undefined, raw, headers: { 'content-type': 'application/binary' } };
      }
    }
    return notFound(`${method} ${path} is not an endpoint of the fake API.`);
  };

  const send = (res: ServerResponse, out: Out, isOpenAI: boolean): void => {
    const requestId: Record<string, string> = { [isOpenAI ? 'x-request-id' : 'request-id']: nextId('req_') };
    const text = out.raw ?? (out.body === undefined ? '' : JSON.stringify(out.body));
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      ...requestId,
      ...(out.headers ?? {}),
      'content-length': String(Buffer.byteLength(text)),
    };
    res.writeHead(out.status, headers);
    res.end(text);
  };

  const server = createServer((req, res) => {
    void (async () => {
      const raw = await readBody(req);
      const method = (req.method ?? 'GET').toUpperCase();
      const path = new URL(req.url ?? '/', 'http://fake').pathname;
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) {
        if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
      }
      let body: any;
      if (raw.length) {
        try {
          body = JSON.parse(raw);
        } catch {
          body = raw;
        }
      }
      const recorded: RecordedRequest = { method, path, headers, body };
      api.requests.push(recorded);
      for (const w of waiters.filter((x) => x.match(recorded))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(recorded);
      }

      const kind = kindOf(method, path);
      const isOpenAI = !path.startsWith('/v1/messages');
      const qi = queue.findIndex((q) => q.kind === 'any' || q.kind === kind);
      const queued = qi >= 0 ? queue.splice(qi, 1)[0]!.reply : undefined;

      if (queued && 'reset' in queued) {
        req.socket.destroy();
        return;
      }
      let out: Out;
      if (queued && queued.body !== undefined) {
        out = { status: queued.status, body: queued.body, ...(queued.headers ? { headers: queued.headers } : {}) };
      } else if (queued && queued.status >= 400) {
        out = {
          status: queued.status,
          body: isOpenAI ? openaiError(queued.status) : anthropicError(queued.status),
          ...(queued.headers ? { headers: queued.headers } : {}),
        };
      } else {
        out = handleDefault(method, path, body);
        if (queued) out = { ...out, status: queued.status, headers: { ...(out.headers ?? {}), ...(queued.headers ?? {}) } };
      }
      if (queued?.delayMs) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, queued.delayMs);
          res.on('close', () => {
            clearTimeout(t);
            resolve();
          });
        });
        if (res.destroyed || res.writableEnded) return;
      }
      send(res, out, isOpenAI);
    })().catch((e: unknown) => {
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify(anthropicError(500, `fake API failure: ${e instanceof Error ? e.message : String(e)}`)));
      } else res.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  api.url = `http://127.0.0.1:${port}`;
  api.close = () =>
    new Promise<void>((resolve, reject) => {
      server.close((e) => (e ? reject(e) : resolve()));
      server.closeAllConnections();
    });
  return api;
}
