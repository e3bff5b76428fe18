import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { formatTotals } from '../src/exec/runners/usage.js';
import { useApiTests } from './helpers/apiTests.js';
import { Bench } from './helpers/workspace.js';
import { anthropic, KEY, pipeline } from './helpers/apiPipelines.js';
import type { BuildEvent } from '../src/events/types.js';

/*
 * The API runners' transport against loopback stand-ins that record every request: one budget of repeated
 * requests per batch, shared by its attempts; the same failure three times in a row, a refused connection
 * and a permanent 4xx end the batch at once; every repeat counted; only validation errors in a retry's
 * prompt; an answer cut off at max_tokens kept; no abort listener left on the build's signal; a local
 * server without a key; unpriced runs said so. CF_API_RETRY_MS keeps the backoff short (Retry-After is
 * honoured as the server gives it).
 */

const t = useApiTests({ env: { CF_API_RETRY_MS: '2' } });

async function project(yaml: string, seeds = 10): Promise<Bench> {
  return t.project(yaml, seeds);
}

/** An openai runner on the fake (local-llama: no price), with `more` runner keys. */
const local = (more = '', phase = ''): string => pipeline(`    kind: openai\n    model: local-llama\n    max_tokens: 1500\n    base_url: ${t.api.url}/v1\n${more}`, phase);

const chats = (): number => t.api.requests.filter((q) => q.path === '/v1/chat/completions').length;
const failedEvent = (events: BuildEvent[]): Extract<BuildEvent, { event: 'failed' }> => events.find((e) => e.event === 'failed') as Extract<BuildEvent, { event: 'failed' }>;

/** A loopback port nothing listens on (taken, then let go). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('transport failures share one budget per batch', () => {
  it('a server that answers 500 every time: the batch fails after the same failure 3 times (3 requests, not 21), and they are counted', async () => {
    const b = await project(local(), 10);
    t.setEnv({ OPENAI_API_KEY: KEY });
    t.api.enqueue('chat', ...Array.from({ length: 30 }, () => ({ status: 500 })));
    const r = await b.build();
    expect(r.exitCode).toBe(1);
    expect(chats()).toBe(3);
    const failed = failedEvent(r.events);
    expect(failed.attempts).toBe(1);
    expect(failed.errors[0]!.message).toMatch(/HTTP 500: .*Internal server error.*the same failure 3 times in a row/);
    expect(r.summary.usage.pairs).toMatchObject({ transportRetries: 2 });
    expect(formatTotals((await b.status()).phases[0]!.usage)).toContain('2 requests repeated');
  });

  it('failures that differ: at most 1 + max_retries requests for the batch, over all its attempts', async () => {
    const b = await project(local('    max_retries: 3\n'), 10);
    t.setEnv({ OPENAI_API_KEY: KEY });
    // Attempt 1: two 500s, then an answer missing S0001 (invalid); attempt 2: a 502 and a 503 spend the rest.
    t.api.enqueue('chat', { status: 500 }, { status: 502 });
    let n = 0;
    t.api.answer = (body) => {
      n++;
      const items = JSON.parse(/```json\n([\s\S]*?)\n```/.exec(body.messages[1].content)![1]!) as Array<{ id: string }>;
      if (n === 1) t.api.enqueue('chat', { status: 504 }, { status: 503 }, { status: 500 });
      return `\`\`\`json\n${JSON.stringify(n === 1 ? items.slice(1) : items)}\n\`\`\``;
    };
    const r = await b.build();
    expect(r.exitCode).toBe(1);
    // 3 from attempt 1 (two repeated), 2 from attempt 2 (one repeated): max_retries 3 spent.
    expect(chats()).toBe(5);
    const failed = failedEvent(r.events);
    expect(failed.attempts).toBe(2);
    expect(failed.errors.at(-1)!.message).toMatch(/HTTP 503: .*max_retries 3 spent/);
    expect(r.summary.usage.pairs).toMatchObject({ transportRetries: 3 });
    // An API failure is not an error for the model to fix: attempt 2's prompt carries attempt 1's validation errors only.
    for (const q of t.api.requests.slice(3)) expect(q.body.messages[1].content).not.toMatch(/HTTP 5\d\d/);
  });

  it('a refused connection fails each batch at once, naming the URL and the runner', async () => {
    const port = await closedPort();
    const b = await project(pipeline(`    kind: openai\n    model: local-llama\n    base_url: http://127.0.0.1:${port}/v1`), 30);
    t.setEnv({ OPENAI_API_KEY: KEY });
    const started = Date.now();
    const r = await b.build([], { jobs: 1 });
    expect(r.exitCode).toBe(1);
    expect(Date.now() - started).toBeLessThan(3000);
    const failed = r.events.filter((e) => e.event === 'failed') as Array<Extract<BuildEvent, { event: 'failed' }>>;
    expect(failed).toHaveLength(3);
    for (const f of failed) {
      expect(f.attempts).toBe(1);
      expect(f.errors).toHaveLength(1);
      expect(f.errors[0]!.message).toContain(`cannot connect to http://127.0.0.1:${port}/v1 (runner model): connection refused`);
    }
  });

  it('permanent errors (unknown model 404, 403, 400) fail the batch after one request', async () => {
    const b = await project(local(), 30);
    t.setEnv({ OPENAI_API_KEY: KEY });
    t.api.enqueue('chat', { status: 404 }, { status: 403 }, { status: 400 });
    const r = await b.build([], { jobs: 1 });
    expect(r.exitCode).toBe(1);
    expect(chats()).toBe(3);
    const failed = r.events.filter((e) => e.event === 'failed') as Array<Extract<BuildEvent, { event: 'failed' }>>;
    expect(failed.map((f) => [f.attempts, /HTTP (\d+)/.exec(f.errors[0]!.message)![1]])).toEqual([
      [1, '404'],
      [1, '403'],
      [1, '400'],
    ]);
  });
});

describe('answers cut off, listeners, keys and prices', () => {
  it('an answer cut off at max_tokens is kept in the attempt directory and the retry prompt carries no API error', async () => {
    const b = await project(local(), 10);
    b.runDirs = true;
    t.setEnv({ OPENAI_API_KEY: KEY });
    let n = 0;
    const long = (text: string): string => `${text}\n${'padding '.repeat(2000)}`;
    t.api.answer = (body, kind) => {
      n++;
      const items = JSON.parse(/```json\n([\s\S]*?)\n```/.exec(body.messages[1].content)![1]!) as Array<{ id: string }>;
      const text = `\`\`\`json\n${JSON.stringify(items)}\n\`\`\``;
      return n === 1 ? long(`${text} ${kind}`) : text;
    };
    const r = await b.build();
    expect(r.exitCode).toBe(0);
    const retried = r.events.find((e) => e.event === 'retried') as Extract<BuildEvent, { event: 'retried' }>;
    expect(retried.errors[0]!.message).toMatch(/cut off at max_tokens \(1500\).*kept in .*attempt-1\/output\.json/);
    const kept = await b.read('.cf/runs/pairs/1/attempt-1/output.json');
    expect(kept.startsWith('```json\n[')).toBe(true);
    expect(kept.length).toBe(1500 * 4);
    const second = t.api.requests.filter((q) => q.path === '/v1/chat/completions')[1]!;
    expect(second.body.messages[1].content).not.toContain('max_tokens');
    expect(second.body.messages[1].content).not.toContain('rejected');
  });

  it('no abort listener per request is left on the batch signal (no MaxListenersExceededWarning)', async () => {
    const b = await project(local('    max_retries: 12\n'), 10);
    t.setEnv({ OPENAI_API_KEY: KEY });
    // 12 repeats of one batch's request (a server asking to wait 1 ms): 13 requests under one signal.
    t.api.enqueue('chat', ...Array.from({ length: 12 }, () => ({ status: 429, headers: { 'retry-after-ms': '1' } })));
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on('warning', onWarning);
    try {
      const r = await b.build();
      expect(r.exitCode).toBe(0);
      expect(chats()).toBe(13);
      expect(r.summary.usage.pairs).toMatchObject({ transportRetries: 12 });
      // A warning is emitted on the next tick: let it come before looking.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.map((w) => `${w.name}: ${w.message}`).filter((w) => w.includes('MaxListeners'))).toEqual([]);
  });

  it('a server on loopback needs no API key (openai and anthropic)', async () => {
    const b = await project(local(), 10);
    t.setEnv({ OPENAI_API_KEY: undefined, ANTHROPIC_API_KEY: undefined });
    const r = await b.build();
    expect(r.exitCode).toBe(0);
    expect(chats()).toBe(1);
    await b.remove();
    const a = await project(anthropic(`    base_url: ${t.api.url}`), 10);
    expect((await a.build()).exitCode).toBe(0);
    expect(t.api.requests.filter((q) => q.path === '/v1/messages')).toHaveLength(1);
  });

  it('a model without a price reads "unpriced", not $0.0000', async () => {
    const b = await project(local(), 20);
    t.setEnv({ OPENAI_API_KEY: KEY });
    const r = await b.build();
    expect(r.exitCode).toBe(0);
    const shown = formatTotals(r.summary.usage.pairs!);
    expect(shown).toContain('unpriced');
    expect(shown).not.toContain('$');
    const status = formatTotals((await b.status()).phases[0]!.usage);
    expect(status).toContain('unpriced');
    expect(status).not.toContain('$0.0000');
  });
});
