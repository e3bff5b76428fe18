import { closeSync, createReadStream, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { claudeCodeResult, type ClaudeCodeEnvelope } from './extract.js';
import { costOf, priceFor, type Price } from './pricing.js';
import type { Usage } from './usage.js';

/*
 * What Claude Code printed on stdout, read after it ended however it ended: `--output-format stream-json
 * --verbose --include-partial-messages` writes a line per event as it happens, so even a run killed by a
 * timeout or Ctrl-C (which writes no result) has told what it spent so far: each model call's usage (its
 * message_start: input and cache tokens; its message_delta: output tokens), which is priced here from the
 * pipeline's price table. A run that ended writes a result line whose dollars are the CLI's own.
 *
 * The stream also holds every partial message (a line per few tokens streamed): once read, the file keeps
 * the other lines only (the messages, the tool results, the result), what `--output-format json --verbose`
 * would have printed. Older output formats (one JSON envelope, a JSON list) are read too.
 */

/** Lines longer than this are skipped unread (a CLI writes none: it caps its own lines far below). */
const MAX_LINE = 64 * 1024 * 1024;

/** One model call as the stream told it. */
interface StreamedMessage {
  model: string;
  input: number;
  cacheWrite: number;
  cacheRead: number;
  output: number;
  /** Its final usage arrived (message_delta, or a whole message from the non-streaming fallback). */
  done: boolean;
  /** Characters streamed so far (text, thinking, tool input): what an unfinished call has generated. */
  chars: number;
}

export interface ClaudeCodeOutput {
  /** The last result line (the run's envelope), or null when it wrote none (killed, or not Claude Code). */
  envelope: ClaudeCodeEnvelope | null;
  /**
   * What the run consumed: the envelope's figures plus anything streamed after it; or, without an
   * envelope, what the streamed messages say (null when nothing was streamed).
   */
  usage: Usage | null;
  /** Whether stdout was Claude Code's JSON at all (else it is the answer as text, as any agent's). */
  json: boolean;
}

/** The kinds of line Claude Code writes: stdout holding none is no Claude Code output (an answer printed as text). */
const CLAUDE_EVENTS = new Set(['system', 'assistant', 'user', 'result', 'stream_event']);

const n = (x: unknown): number => (typeof x === 'number' && Number.isFinite(x) ? x : 0);

/** Claude Code's stdout file, read (and compacted: `compact`) once the run has ended. */
export async function readClaudeCodeOutput(file: string, o: { prices: Record<string, Price>; model?: string; compact: boolean }): Promise<ClaudeCodeOutput> {
  let envelope: ClaudeCodeEnvelope | null = null;
  let json = false;
  let partials = false;
  // Model calls since the last result line (a result's figures count every call before it).
  let messages = new Map<string, StreamedMessage>();
  let current: string | null = null;
  // The lines kept (all but the partial messages), written beside the file as they are read.
  const kept = o.compact ? new LineWriter(`${file}.compact`) : null;

  const message = (id: string, model: unknown): StreamedMessage => {
    let m = messages.get(id);
    if (!m) messages.set(id, (m = { model: typeof model === 'string' ? model : '', input: 0, cacheWrite: 0, cacheRead: 0, output: 0, done: false, chars: 0 }));
    if (!m.model && typeof model === 'string') m.model = model;
    return m;
  };
  // Usage figures are running totals of a call: the largest seen is its latest.
  const merge = (m: StreamedMessage, u: Record<string, unknown> | undefined): void => {
    if (!u) return;
    m.input = Math.max(m.input, n(u.input_tokens));
    m.cacheWrite = Math.max(m.cacheWrite, n(u.cache_creation_input_tokens));
    m.cacheRead = Math.max(m.cacheRead, n(u.cache_read_input_tokens));
    m.output = Math.max(m.output, n(u.output_tokens));
  };

  const event = (v: any): void => {
    if (Array.isArray(v)) {
      for (const x of v) event(x);
      return;
    }
    if (!v || typeof v !== 'object' || !CLAUDE_EVENTS.has(v.type)) return;
    json = true;
    switch (v.type) {
      case 'result': {
        const e = claudeCodeResult(v);
        if (e) {
          envelope = e;
          messages = new Map();
        }
        return;
      }
      case 'assistant': {
        const msg = v.message;
        if (!msg?.id || msg.model === '<synthetic>') return;
        const m = message(msg.id, msg.model);
        merge(m, msg.usage);
        // What it generated, for a call whose final usage never comes (a subagent's: no partial events of its own).
        m.chars = Math.max(m.chars, contentChars(msg.content));
        // A whole message (the non-streaming fallback) says its stop reason; streamed ones say null.
        if (msg.stop_reason) m.done = true;
        return;
      }
      case 'stream_event': {
        partials = true;
        const e = v.event;
        if (e?.type === 'message_start' && e.message?.id) {
          current = e.message.id as string;
          merge(message(current, e.message.model), e.message.usage);
          return;
        }
        const id = typeof v.api_message_id === 'string' ? v.api_message_id : current;
        if (!id) return;
        if (e?.type === 'content_block_delta') {
          const d = e.delta ?? {};
          message(id, undefined).chars += String(d.text ?? d.partial_json ?? d.thinking ?? '').length;
        } else if (e?.type === 'message_delta') {
          const m = message(id, undefined);
          merge(m, e.usage);
          m.done = true;
        }
        return;
      }
    }
  };

  const line = (text: string): void => {
    const t = text.trim();
    if (!t) return;
    let v: unknown;
    try {
      v = JSON.parse(t);
    } catch {
      kept?.write(text);
      return;
    }
    event(v);
    if (!(v && typeof v === 'object' && (v as { type?: unknown }).type === 'stream_event')) kept?.write(text);
  };

  try {
    await eachLine(file, line);
  } finally {
    kept?.close(partials ? file : null);
  }

  const streamed = [...messages.values()].filter((m) => m.input + m.cacheWrite + m.cacheRead + m.output + m.chars > 0);
  const fromStream = streamedUsage(streamed, o.prices);
  const env = envelope as ClaudeCodeEnvelope | null;
  let usage: Usage | null = null;
  if (env) {
    const u = env.usage ?? { input: 0, cacheWrite: 0, cacheRead: 0, output: 0 };
    const model = env.model ?? o.model;
    usage = {
      ...(model ? { model } : {}),
      inputTokens: u.input + (fromStream?.inputTokens ?? 0),
      cacheWriteTokens: u.cacheWrite + (fromStream?.cacheWriteTokens ?? 0),
      cacheReadTokens: u.cacheRead + (fromStream?.cacheReadTokens ?? 0),
      outputTokens: u.output + (fromStream?.outputTokens ?? 0),
      costUsd: env.costUsd === null ? null : fromStream && fromStream.costUsd === null ? null : env.costUsd + (fromStream?.costUsd ?? 0),
    };
  } else if (fromStream) {
    usage = { ...fromStream, ...(fromStream.model ?? o.model ? { model: fromStream.model ?? o.model } : {}) };
  }
  return { envelope: env, usage, json };
}

/** The characters of a message's content: text, thinking, tool calls' input. */
function contentChars(content: unknown): number {
  if (!Array.isArray(content)) return 0;
  let chars = 0;
  for (const b of content as Array<Record<string, unknown>>) {
    if (typeof b?.text === 'string') chars += b.text.length;
    else if (typeof b?.thinking === 'string') chars += b.thinking.length;
    else if (b?.type === 'tool_use') chars += JSON.stringify(b.input ?? {}).length;
  }
  return chars;
}

/**
 * The streamed calls' tokens and their price. A call cut off before its final usage has generated at least
 * what it streamed: about a token per four characters.
 */
function streamedUsage(messages: StreamedMessage[], prices: Record<string, Price>): Usage | null {
  if (!messages.length) return null;
  const total: Usage = { inputTokens: 0, cacheWriteTokens: 0, cacheReadTokens: 0, outputTokens: 0, costUsd: 0 };
  for (const m of messages) {
    const tokens = { inputTokens: m.input, cacheWriteTokens: m.cacheWrite, cacheReadTokens: m.cacheRead, outputTokens: m.done ? m.output : Math.max(m.output, Math.ceil(m.chars / 4)) };
    total.inputTokens += tokens.inputTokens;
    total.cacheWriteTokens += tokens.cacheWriteTokens;
    total.cacheReadTokens += tokens.cacheReadTokens;
    total.outputTokens += tokens.outputTokens;
    const usd = costOf(tokens, priceFor(m.model, prices));
    total.costUsd = usd === null || total.costUsd === null ? null : total.costUsd + usd;
  }
  const model = messages.find((m) => m.model)?.model;
  return { ...(model ? { model } : {}), ...total };
}

/** Calls `fn` with each line of a file, read in chunks (lines over MAX_LINE skipped). */
async function eachLine(file: string, fn: (line: string) => void): Promise<void> {
  let parts: Buffer[] = [];
  let size = 0;
  let skipping = false;
  const stream = createReadStream(file);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let from = 0;
      for (let nl = chunk.indexOf(10, from); nl >= 0; nl = chunk.indexOf(10, from)) {
        if (!skipping) fn(Buffer.concat([...parts, chunk.subarray(from, nl)]).toString('utf8'));
        parts = [];
        size = 0;
        skipping = false;
        from = nl + 1;
      }
      if (from < chunk.length && !skipping) {
        size += chunk.length - from;
        if (size > MAX_LINE) {
          skipping = true;
          parts = [];
        } else {
          parts.push(chunk.subarray(from));
        }
      }
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  if (parts.length && !skipping) fn(Buffer.concat(parts).toString('utf8'));
}

/**
 * Lines written to a file as they come (synchronously: small writes while the attempt's output is read),
 * which then replaces another file, or is dropped. A failure to write only leaves the file as it was.
 */
class LineWriter {
  private fd: number | null;

  constructor(private readonly path: string) {
    try {
      this.fd = openSync(path, 'w');
    } catch {
      this.fd = null;
    }
  }

  write(line: string): void {
    if (this.fd === null) return;
    try {
      writeSync(this.fd, `${line}\n`);
    } catch {
      this.drop();
    }
  }

  /** Renamed over `replace`, or removed (null). */
  close(replace: string | null): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
    try {
      if (replace) renameSync(this.path, replace);
      else rmSync(this.path, { force: true });
    } catch {
      rmSync(this.path, { force: true });
    }
  }

  private drop(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    rmSync(this.path, { force: true });
  }
}
