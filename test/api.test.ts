import { describe, expect, it } from 'vitest';
import { formatTotals } from '../src/exec/runners/usage.js';
import type { BatchRecord } from '../src/store/records.js';
import { useApiTests } from './helpers/apiTests.js';
import { Bench } from './helpers/workspace.js';
import { eventText } from '../src/cli/format/events.js';
import { anthropic, INTELLIGENCE, KEY, pipeline } from './helpers/apiPipelines.js';

/*
 * kind: anthropic and kind: openai runners (the real SDK clients) against a local fake of the APIs, through
 * the composed Workspace: the pipeline's own runners, the store and outputs in memory, no cf process.
 * Moved here from api.cli.test.ts with their assertions (records.log read as the store's records, the
 * summary and status as data); the process path (kill -9 of a Message Batch, secrets in what cf prints
 * and writes) stays there.
 */

const t = useApiTests();

async function project(yaml: string, seeds = 30): Promise<Bench> {
  return t.project(yaml, seeds);
}

/** Each batch's record, in the order the batches finished (as records.log lists them). */
function records(b: Bench): BatchRecord[] {
  return b.store
    .targets()
    .map((t) => b.store.lastSuccess(t)!)
    .sort((x, y) => x.at.localeCompare(y.at));
}

describe('kind: anthropic, against a local fake of the API (real SDK client, the Workspace in memory)', () => {
  it('caches the intelligence: batch 1 writes the cache, batches 2-3 read it; records usage and cost', async () => {
    const b = await project(anthropic(`    base_url: ${t.api.url}`));
    t.setEnv({ ANTHROPIC_API_KEY: KEY });
    const r = await b.build([], { jobs: 4 });
    expect(r.exitCode).toBe(0);
    const calls = t.api.requests.filter((q) => q.path === '/v1/messages');
    expect(calls).toHaveLength(3);
    for (const c of calls) {
      expect(c.body).toMatchObject({ model: 'claude-haiku-4-5', max_tokens: 2000, temperature: 0.2 });
      expect(c.body.system).toEqual([{ type: 'text', text: INTELLIGENCE.trimEnd(), cache_control: { type: 'ephemeral' } }]);
      expect(c.body.messages[0].content).toContain('## Input items');
      expect(c.headers.authorization).toBe(`Bearer ${KEY}`);
    }
    const usage = records(b).map((x) => ({ target: x.target, ...x.usage![0]! }));
    // The first request writes the cache (the others waited for it), the later ones read it.
    const writers = usage.filter((u) => u.cacheWriteTokens > 0);
    expect(writers).toHaveLength(1);
    const firstSent = calls[0]!.body.messages[0].content as string;
    const writerFirstId = `S${String((Number(writers[0]!.target.split('#')[1]) - 1) * 10 + 1).padStart(4, '0')}`;
    expect(firstSent).toContain(`Items: 10 (${writerFirstId} …`);
    for (const u of usage.filter((x) => x !== writers[0])) {
      expect(u.cacheWriteTokens).toBe(0);
      expect(u.cacheReadTokens).toBe(writers[0]!.cacheWriteTokens);
    }
    expect(r.summary.usage.pairs!.attempts).toBe(3);
    expect(r.summary.usage.pairs!.costUsd).toBeGreaterThan(0);
    const status = await b.status();
    expect(formatTotals(status.phases[0]!.usage)).toMatch(/^[\d.]+k tokens in \(\d+% from cache\), [\d.]+k? out, \$0\.\d{4}/);
  });

  it('429 with Retry-After: waits and succeeds, and it is not an attempt; 529 and 500 likewise', async () => {
    const b = await project(anthropic(), 10);
    t.api.enqueue('messages', { status: 429, headers: { 'retry-after': '1' } }, { status: 529 }, { status: 500, headers: { 'retry-after-ms': '10' } });
    // The backoff of the 529 kept short; the 429's Retry-After (1 s) is honoured as given.
    t.setEnv({ ANTHROPIC_API_KEY: KEY, ANTHROPIC_BASE_URL: t.api.url, CF_API_RETRY_MS: '2' });
    const started = Date.now();
    const r = await b.build();
    expect(r.exitCode).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(t.api.requests.filter((q) => q.path === '/v1/messages')).toHaveLength(4);
    expect(r.events.find((e) => e.event === 'ran')).toMatchObject({ target: 'pairs#1', attempts: 1 });
    expect(r.events.some((e) => e.event === 'retried')).toBe(false);
    expect(records(b)[0]!.usage![0]!.transportRetries).toBe(3);
    // Shown with the money: in the build's summary and in cf status.
    expect(r.summary.usage).toMatchObject({ pairs: { attempts: 1, transportRetries: 3 } });
    expect(formatTotals((await b.status()).phases[0]!.usage)).toContain('3 requests repeated (429/5xx/connection)');
  });

  it('an invalid answer is retried with its errors; a 401 fails at once (no retries)', async () => {
    const b = await project(anthropic(`    base_url: ${t.api.url}`), 10);
    t.setEnv({ ANTHROPIC_API_KEY: KEY });
    let n = 0;
    t.api.answer = (body) => {
      n++;
      const items = JSON.parse(/```json\n([\s\S]*?)\n```/.exec(body.messages[0].content)![1]!) as Array<{ id: string }>;
      const out = n === 1 ? items.slice(1) : items.map((it) => ({ ...it, answered: true }));
      return `\`\`\`json\n${JSON.stringify(out)}\n\`\`\``;
    };
    const r = await b.build();
    expect(r.exitCode).toBe(0);
    expect(r.events.find((e) => e.event === 'retried')).toMatchObject({ errors: [expect.objectContaining({ item: 'S0001', message: 'S0001 is missing from the output' })] });
    const second = t.api.requests.filter((q) => q.path === '/v1/messages')[1]!;
    expect(second.body.messages[0].content).toContain('- S0001: S0001 is missing from the output');

    await b.clean();
    t.api.enqueue('messages', { status: 401 });
    const denied = await b.build();
    expect(denied.exitCode).toBe(1);
    expect(denied.events.find((e) => e.event === 'failed')).toMatchObject({ attempts: 1, errors: [expect.objectContaining({ message: expect.stringMatching(/HTTP 401/) })] });
    expect(denied.events.some((e) => e.event === 'retried')).toBe(false);
  });

  it('--max-cost stops before exceeding; a later build with a higher budget resumes where it stopped', async () => {
    const b = await project(anthropic(`    base_url: ${t.api.url}`), 50);
    t.setEnv({ ANTHROPIC_API_KEY: KEY });
    const capped = await b.build([], { jobs: 1, maxCost: 0.012 });
    expect(capped.exitCode).toBe(1);
    const s = capped.summary;
    expect(s.ran.length).toBeGreaterThan(0);
    expect(s.stopped.length).toBeGreaterThan(0);
    expect(s.usage.pairs!.costUsd).toBeLessThanOrEqual(0.012);
    expect(eventText(capped.events.find((e) => e.event === 'stopped')!)).toMatchObject({ reason: expect.stringContaining('would exceed --max-cost $0.0120') });
    const before = t.api.requests.length;
    const more = await b.build([], { maxCost: 5 });
    expect(more.exitCode).toBe(0);
    expect(more.summary.ran.slice().sort()).toEqual([...s.stopped].sort());
    expect(t.api.requests.length - before).toBe(s.stopped.length);
  });

  it('mode: batch sends the stale batches as one Message Batch at half price', async () => {
    const b = await project(anthropic(`    base_url: ${t.api.url}\n    mode: batch\n    poll_interval: 10ms`), 30);
    t.setEnv({ ANTHROPIC_API_KEY: KEY });
    t.api.batchPollsBeforeEnd = 2;
    // Batch 2's first answer leaves out S0011: it comes back invalid and goes out again in a second round.
    let firstOfBatch2 = true;
    t.api.answer = (body) => {
      const items = JSON.parse(/```json\n([\s\S]*?)\n```/.exec(body.messages[0].content)![1]!) as Array<{ id: string }>;
      const drop = items[0]!.id === 'S0011' && firstOfBatch2;
      if (drop) firstOfBatch2 = false;
      return `\`\`\`json\n${JSON.stringify(drop ? items.slice(1) : items)}\n\`\`\``;
    };
    const r = await b.build();
    expect(r.exitCode).toBe(0);
    const creates = t.api.requests.filter((q) => q.method === 'POST' && q.path === '/v1/messages/batches');
    expect(creates).toHaveLength(2);
    expect(creates[0]!.body.requests.map((x: { custom_id: string }) => x.custom_id).sort()).toEqual(['pairs-1-a1', 'pairs-2-a1', 'pairs-3-a1']);
    expect(creates[1]!.body.requests.map((x: { custom_id: string }) => x.custom_id)).toEqual(['pairs-2-a2']);
    expect(creates[1]!.body.requests[0].params.messages[0].content).toContain('- S0011: S0011 is missing from the output');
    expect(t.api.requests.some((q) => q.path === '/v1/messages')).toBe(false);
    expect(records(b)[0]!.usage![0]!.batch).toBe(true);
  });

  it('a missing key is a clear failure, not a request (a server elsewhere than this machine)', async () => {
    const b = await project(anthropic('    base_url: https://api.example.invalid'), 10);
    t.setEnv({ ANTHROPIC_API_KEY: '' });
    const r = await b.build();
    expect(r.exitCode).toBe(1);
    expect(r.events.find((e) => e.event === 'failed')).toMatchObject({ errors: [expect.objectContaining({ message: expect.stringContaining('ANTHROPIC_API_KEY is not set') })] });
    expect(t.api.requests).toHaveLength(0);
  });
});

describe('kind: openai (OpenAI or a local server), real client, the Workspace in memory', () => {
  it('chat completions through OPENAI_BASE_URL, with a phase overriding the model; 429 retried', async () => {
    const b = await project(pipeline(`    kind: openai\n    model: gpt-4.1-mini\n    max_tokens: 1500`, '    model: local-llama\n'), 20);
    t.api.enqueue('chat', { status: 429, headers: { 'retry-after-ms': '20' } });
    t.setEnv({ OPENAI_API_KEY: KEY, OPENAI_BASE_URL: `${t.api.url}/v1` });
    const r = await b.build();
    expect(r.exitCode).toBe(0);
    const calls = t.api.requests.filter((q) => q.path === '/v1/chat/completions');
    expect(calls).toHaveLength(3);
    expect(calls[0]!.body).toMatchObject({ model: 'local-llama', max_tokens: 1500 });
    expect(calls[0]!.body.messages[0]).toEqual({ role: 'system', content: INTELLIGENCE.trimEnd() });
    const out = JSON.parse(b.output('out/pairs.json')!) as Array<{ id: string; answered: boolean }>;
    expect(out).toHaveLength(20);
    expect(out.every((x) => x.answered)).toBe(true);
  });
});
