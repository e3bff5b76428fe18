/**
 * A loopback stand-in of the Anthropic Messages API as the real Claude Code CLI talks to it (checked against
 * `@anthropic-ai/claude-code` 2.1.332): `HEAD /` (its connectivity probe), `POST /v1/messages?beta=true`
 * with `stream: true` answered with server-sent events (message_start, content_block_start/delta/stop,
 * message_delta with usage, message_stop), and the same request without `stream` (the CLI's fallback when
 * a stream fails) answered with one JSON message. Anything else answers 404 in the API's error shape.
 *
 * It fakes the API, never the CLI: what a turn answers is scripted per request (`script`), so a turn can
 * call a tool (the CLI then really runs it, e.g. the Bash tool running a command) and the next request,
 * carrying the tool's result, gets the next turn. Every request is recorded (system blocks included).
 * Listens on 127.0.0.1 on a free port; nothing leaves the machine.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StandInUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

/** What one model call answers. */
export type Turn =
  /** The assistant's text; the turn ends (stop_reason end_turn). */
  | { text: string; usage?: Partial<StandInUsage> }
  /** A tool call (the CLI runs the tool and asks again with its result). */
  | { tool: string; input: Record<string, unknown>; text?: string; usage?: Partial<StandInUsage> }
  /** An HTTP error in the API's shape (e.g. 404 not_found_error for an unknown model, 401 for a bad key). */
  | { status: number; type: string; message: string }
  /** A stream that starts (message_start with usage) and is then cut off: the CLI falls back to a plain request. */
  | { brokenStream: true; usage?: Partial<StandInUsage> };

export interface RecordedMessagesRequest {
  method: string;
  /** The path and query, e.g. "/v1/messages?beta=true". */
  url: string;
  headers: Record<string, string>;
  body: any;
}

export interface MessagesStandIn {
  /** http://127.0.0.1:PORT, for ANTHROPIC_BASE_URL. */
  url: string;
  requests: RecordedMessagesRequest[];
  /** The model calls (POST /v1/messages) only. */
  calls(): RecordedMessagesRequest[];
  /** What the next model call answers, given its request body. */
  script: (body: any) => Turn;
  /** Resolves with the first recorded request (already arrived or the next) that matches. */
  waitFor(match: (r: RecordedMessagesRequest) => boolean): Promise<RecordedMessagesRequest>;
  close(): Promise<void>;
}

const DEFAULT_USAGE: StandInUsage = { input_tokens: 1000, output_tokens: 200, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };

/** The text of the conversation's last user message (its text blocks joined). */
export function lastUserText(body: any): string {
  const last = [...(body?.messages ?? [])].reverse().find((m: any) => m.role === 'user');
  if (!last) return '';
  if (typeof last.content === 'string') return last.content;
  return (last.content as any[])
    .filter((b) => b.type === 'text')
    .map((b) => b.text as string)
    .join('\n');
}

/** The results of tool calls in the conversation so far (tool_result blocks), oldest first. */
export function toolResults(body: any): Array<{ content: string; isError: boolean }> {
  const out: Array<{ content: string; isError: boolean }> = [];
  for (const m of body?.messages ?? []) {
    if (m.role !== 'user' || typeof m.content === 'string') continue;
    for (const b of m.content as any[]) {
      if (b.type !== 'tool_result') continue;
      const content = typeof b.content === 'string' ? b.content : (b.content ?? []).map((c: any) => c.text ?? '').join('');
      out.push({ content, isError: b.is_error === true });
    }
  }
  return out;
}

/** The first user message's text: where the CLI puts the prompt (and, with dynamic sections moved, the environment). */
export function allUserText(body: any): string {
  const out: string[] = [];
  for (const m of body?.messages ?? []) {
    if (m.role !== 'user') continue;
    if (typeof m.content === 'string') out.push(m.content);
    else for (const b of m.content as any[]) if (b.type === 'text') out.push(b.text as string);
  }
  return out.join('\n');
}

function content(turn: Extract<Turn, { text: string } | { tool: string }>, n: number): any[] {
  const blocks: any[] = [];
  if (turn.text !== undefined) blocks.push({ type: 'text', text: turn.text });
  if ('tool' in turn) blocks.push({ type: 'tool_use', id: `toolu_standin_${n}`, name: turn.tool, input: turn.input });
  return blocks;
}

function sse(res: ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

export async function startMessagesStandIn(script: (body: any) => Turn = () => ({ text: 'ok' })): Promise<MessagesStandIn> {
  const requests: RecordedMessagesRequest[] = [];
  const waiters: Array<{ match: (r: RecordedMessagesRequest) => boolean; resolve: (r: RecordedMessagesRequest) => void }> = [];
  let n = 0;
  const api: MessagesStandIn = {
    url: '',
    requests,
    calls: () => requests.filter((r) => r.method === 'POST' && r.url.startsWith('/v1/messages')),
    script,
    waitFor: (match) => {
      const found = requests.find(match);
      return found ? Promise.resolve(found) : new Promise((resolve) => waiters.push({ match, resolve }));
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };

  const record = (r: RecordedMessagesRequest): void => {
    requests.push(r);
    for (const w of waiters.filter((x) => x.match(r))) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(r);
    }
  };

  const answer = (req: IncomingMessage, res: ServerResponse, raw: string): void => {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    let body: any;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      body = raw;
    }
    const url = req.url ?? '/';
    if (req.method === 'HEAD' || (req.method === 'GET' && url === '/')) {
      record({ method: req.method ?? '', url, headers, body });
      res.writeHead(200).end();
      return;
    }
    if (req.method !== 'POST' || !url.startsWith('/v1/messages') || url.startsWith('/v1/messages/')) {
      record({ method: req.method ?? '', url, headers, body });
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: `${req.method} ${url}: not in the stand-in` } }));
      return;
    }
    // Recorded before answering: a test waiting for a request sees it while the CLI acts on the answer.
    const turn = api.script(body);
    record({ method: 'POST', url, headers, body });
    const id = ++n;
    if ('status' in turn) {
      res.writeHead(turn.status, { 'content-type': 'application/json', 'request-id': `req_standin_${id}` });
      res.end(JSON.stringify({ type: 'error', error: { type: turn.type, message: turn.message } }));
      return;
    }
    const usage = { ...DEFAULT_USAGE, ...turn.usage };
    const message = { id: `msg_standin_${id}`, type: 'message', role: 'assistant', model: body?.model ?? 'claude-standin', stop_sequence: null };
    if ('brokenStream' in turn) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      sse(res, 'message_start', { type: 'message_start', message: { ...message, content: [], stop_reason: null, usage: { ...usage, output_tokens: 1 } } });
      // Cut off mid-message: the socket goes without an end.
      res.flushHeaders();
      setImmediate(() => res.socket?.destroy());
      return;
    }
    const blocks = content(turn, id);
    const stopReason = 'tool' in turn ? 'tool_use' : 'end_turn';
    if (body?.stream !== true) {
      res.writeHead(200, { 'content-type': 'application/json', 'request-id': `req_standin_${id}` });
      res.end(JSON.stringify({ ...message, content: blocks, stop_reason: stopReason, usage }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'request-id': `req_standin_${id}` });
    sse(res, 'message_start', { type: 'message_start', message: { ...message, content: [], stop_reason: null, usage: { ...usage, output_tokens: 1 } } });
    blocks.forEach((b, index) => {
      if (b.type === 'text') {
        sse(res, 'content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
        sse(res, 'content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: b.text } });
      } else {
        sse(res, 'content_block_start', { type: 'content_block_start', index, content_block: { type: 'tool_use', id: b.id, name: b.name, input: {} } });
        sse(res, 'content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: JSON.stringify(b.input) } });
      }
      sse(res, 'content_block_stop', { type: 'content_block_stop', index });
    });
    sse(res, 'message_delta', { type: 'message_delta', delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: usage.output_tokens } });
    sse(res, 'message_stop', { type: 'message_stop' });
    res.end();
  };

  const server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (raw += d));
    req.on('end', () => answer(req, res, raw));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  api.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return api;
}
