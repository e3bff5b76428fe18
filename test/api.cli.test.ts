import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeApi, type FakeApi } from './helpers/fakeApi.js';
import { events, Project } from './helpers/project.js';

const KEY = 'sk-ant-test-SECRET-0123456789';
let api: FakeApi;
let p: Project | undefined;

beforeEach(async () => {
  api = await startFakeApi();
});
afterEach(async () => {
  await api.close();
  await p?.remove();
  p = undefined;
});

const INTELLIGENCE = `# Pairs\n${'Translate each seed with care, keeping the meaning and the register. '.repeat(40)}\n`;

function pipeline(runner: string, extra = ''): string {
  return `seeds: seeds.json
batch_size: 10
runners:
  model:
${runner}
phases:
  - name: pairs
    intelligence: prompts/pairs.md
    runner: model
    output: out/pairs.json
${extra}`;
}

const anthropic = (more = ''): string =>
  pipeline(`    kind: anthropic
    model: claude-haiku-4-5
    max_tokens: 2000
    temperature: 0.2
${more}`);

interface Summary {
  ran: string[];
  stopped: string[];
  usage: Record<string, { attempts: number; costUsd: number; cacheReadTokens: number; cacheWriteTokens: number }>;
}
const summaryOf = (stdout: string): Summary => events(stdout).at(-1) as unknown as Summary;

async function project(yaml: string, seeds = 30): Promise<Project> {
  const pr = await Project.create({ seeds, pipeline: yaml });
  await pr.write('prompts/pairs.md', INTELLIGENCE);
  return pr;
}

async function everyFile(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(path.join(e.parentPath, e.name));
  return out;
}

describe('kind: anthropic, against a local fake of the API (real SDK client)', () => {
  it('caches the intelligence: batch 1 writes the cache, batches 2-3 read it; records usage and cost', async () => {
    p = await project(anthropic(`    base_url: ${api.url}`));
    const r = await p.cf(['build', '--json', '-j', '4'], { ANTHROPIC_API_KEY: KEY });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const calls = api.requests.filter((q) => q.path === '/v1/messages');
    expect(calls).toHaveLength(3);
    for (const c of calls) {
      expect(c.body).toMatchObject({ model: 'claude-haiku-4-5', max_tokens: 2000, temperature: 0.2 });
      expect(c.body.system).toEqual([{ type: 'text', text: INTELLIGENCE.trimEnd(), cache_control: { type: 'ephemeral' } }]);
      expect(c.body.messages[0].content).toContain('## Input items');
      expect(c.headers.authorization).toBe(`Bearer ${KEY}`);
    }
    const log = await p.read('.cf/records.log');
    const records = log.trim().split('\n').map((l) => JSON.parse(l) as { t: string; target: string; usage?: Array<{ cacheWriteTokens: number; cacheReadTokens: number; costUsd: number }> });
    const usage = records.filter((x) => x.t === 'batch').map((x) => ({ target: x.target, ...x.usage![0]! }));
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
    const s = summaryOf(r.stdout);
    expect(s.usage.pairs!.attempts).toBe(3);
    expect(s.usage.pairs!.costUsd).toBeGreaterThan(0);
    const human = await p.cf(['status']);
    expect(human.stdout).toMatch(/pairs\s+[\d.]+k tokens in \(\d+% from cache\), [\d.]+k? out, \$0\.\d{4}/);
  });

  it('429 with Retry-After: waits and succeeds, and it is not an attempt; 529 and 500 likewise', async () => {
    p = await project(anthropic(), 10);
    api.enqueue('messages', { status: 429, headers: { 'retry-after': '1' } }, { status: 529 }, { status: 500, headers: { 'retry-after-ms': '10' } });
    const started = Date.now();
    const r = await p.cf(['build', '--json'], { ANTHROPIC_API_KEY: KEY, ANTHROPIC_BASE_URL: api.url });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(api.requests.filter((q) => q.path === '/v1/messages')).toHaveLength(4);
    const ev = events(r.stdout);
    expect(ev.find((e) => e.event === 'ran')).toMatchObject({ target: 'pairs#1', attempts: 1 });
    expect(ev.some((e) => e.event === 'retried')).toBe(false);
    const rec = JSON.parse((await p.read('.cf/records.log')).trim().split('\n')[0]!) as { usage: Array<{ transportRetries: number }> };
    expect(rec.usage[0]!.transportRetries).toBe(3);
    // Shown with the money: in the build's summary and in cf status.
    expect(ev.find((e) => e.event === 'summary')).toMatchObject({ usage: { pairs: { attempts: 1, transportRetries: 3 } } });
    const status = await p.cf(['status'], { ANTHROPIC_API_KEY: KEY, ANTHROPIC_BASE_URL: api.url });
    expect(status.stdout).toContain('3 requests repeated (429/529/5xx)');
  });

  it('an invalid answer is retried with its errors; a 401 fails at once (no retries)', async () => {
    p = await project(anthropic(`    base_url: ${api.url}`), 10);
    let n = 0;
    api.answer = (body) => {
      n++;
      const items = JSON.parse(/```json\n([\s\S]*?)\n```/.exec(body.messages[0].content)![1]!) as Array<{ id: string }>;
      const out = n === 1 ? items.slice(1) : items.map((it) => ({ ...it, answered: true }));
      return `\`\`\`json\n${JSON.stringify(out)}\n\`\`\``;
    };
    const r = await p.cf(['build'], { ANTHROPIC_API_KEY: KEY });
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toContain('S0001: S0001 is missing from the output');
    const second = api.requests.filter((q) => q.path === '/v1/messages')[1]!;
    expect(second.body.messages[0].content).toContain('- S0001: S0001 is missing from the output');

    await p.cf(['clean']);
    api.enqueue('messages', { status: 401 });
    const denied = await p.cf(['build'], { ANTHROPIC_API_KEY: KEY });
    expect(denied.code).toBe(1);
    expect(denied.stdout).toMatch(/HTTP 401/);
    expect(denied.stdout).not.toContain('attempt 1 rejected, retrying');
  });

  it('--max-cost stops before exceeding; a later build with a higher budget resumes where it stopped', async () => {
    p = await project(anthropic(`    base_url: ${api.url}`), 50);
    const capped = await p.cf(['build', '--json', '-j', '1', '--max-cost', '0.012'], { ANTHROPIC_API_KEY: KEY });
    expect(capped.code, capped.stdout.split('\n').filter((l) => l.includes('summary') || l.includes('stopped')).join('\n')).toBe(1);
    const s = summaryOf(capped.stdout);
    expect(s.ran.length).toBeGreaterThan(0);
    expect(s.stopped.length).toBeGreaterThan(0);
    expect(s.usage.pairs!.costUsd).toBeLessThanOrEqual(0.012);
    expect(events(capped.stdout).find((e) => e.event === 'stopped')).toMatchObject({ reason: expect.stringContaining('would exceed --max-cost $0.0120') });
    const before = api.requests.length;
    const more = await p.cf(['build', '--json', '--max-cost', '5'], { ANTHROPIC_API_KEY: KEY });
    expect(more.code, more.stdout).toBe(0);
    const again = summaryOf(more.stdout);
    expect(again.ran.sort()).toEqual([...s.stopped].sort());
    expect(api.requests.length - before).toBe(s.stopped.length);
  });

  it('mode: batch sends the stale batches as one Message Batch at half price', async () => {
    p = await project(anthropic(`    base_url: ${api.url}\n    mode: batch\n    poll_interval: 10ms`), 30);
    api.batchPollsBeforeEnd = 2;
    // Batch 2's first answer leaves out S0011: it comes back invalid and goes out again in a second round.
    let firstOfBatch2 = true;
    api.answer = (body) => {
      const items = JSON.parse(/```json\n([\s\S]*?)\n```/.exec(body.messages[0].content)![1]!) as Array<{ id: string }>;
      const drop = items[0]!.id === 'S0011' && firstOfBatch2;
      if (drop) firstOfBatch2 = false;
      return `\`\`\`json\n${JSON.stringify(drop ? items.slice(1) : items)}\n\`\`\``;
    };
    const r = await p.cf(['build', '--json'], { ANTHROPIC_API_KEY: KEY });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const creates = api.requests.filter((q) => q.method === 'POST' && q.path === '/v1/messages/batches');
    expect(creates).toHaveLength(2);
    expect(creates[0]!.body.requests.map((x: { custom_id: string }) => x.custom_id).sort()).toEqual(['pairs-1-a1', 'pairs-2-a1', 'pairs-3-a1']);
    expect(creates[1]!.body.requests.map((x: { custom_id: string }) => x.custom_id)).toEqual(['pairs-2-a2']);
    expect(creates[1]!.body.requests[0].params.messages[0].content).toContain('- S0011: S0011 is missing from the output');
    expect(api.requests.some((q) => q.path === '/v1/messages')).toBe(false);
    const rec = JSON.parse((await p.read('.cf/records.log')).trim().split('\n')[0]!) as { usage: Array<{ batch: boolean }> };
    expect(rec.usage[0]!.batch).toBe(true);
  });

  it('a build killed while its Message Batch runs follows that batch next time instead of submitting again', async () => {
    p = await project(anthropic(`    base_url: ${api.url}\n    mode: batch\n    poll_interval: 20ms`), 30);
    api.batchPollsBeforeEnd = 4;
    const first = p.spawn(['build', '--json'], { ANTHROPIC_API_KEY: KEY, CF_LOCK_STALE_MS: '2000' });
    // The first poll comes after the batch was created and journaled: kill -9 there, as a reboot would.
    await api.waitFor((q) => q.method === 'GET' && q.path.startsWith('/v1/messages/batches/'));
    first.kill('SIGKILL');
    await first;
    const journal = JSON.parse(await p.read('.cf/message-batches.json')) as Array<{ id: string; requests: Record<string, string> }>;
    expect(journal).toHaveLength(1);
    expect(Object.keys(journal[0]!.requests).sort()).toEqual(['pairs-1-a1', 'pairs-2-a1', 'pairs-3-a1']);
    expect(JSON.stringify(journal)).not.toContain(KEY);

    const again = await p.cf(['build', '--json'], { ANTHROPIC_API_KEY: KEY, CF_LOCK_STALE_MS: '2000' });
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(summaryOf(again.stdout).ran.sort()).toEqual(['pairs#1', 'pairs#2', 'pairs#3']);
    expect(api.requests.filter((q) => q.method === 'POST' && q.path === '/v1/messages/batches')).toHaveLength(1);
    expect(api.requests.some((q) => q.path === `/v1/messages/batches/${journal[0]!.id}/results`)).toBe(true);
    await expect(p.read('.cf/message-batches.json')).rejects.toThrow();
  });

  it('the API key never reaches records, prompts on disk, logs or output', async () => {
    p = await project(anthropic(`    base_url: ${api.url}`), 10);
    api.enqueue('messages', { status: 400, body: { type: 'error', error: { type: 'invalid_request_error', message: `bad key ${KEY}` } } });
    const r = await p.cf(['build', '--json'], { ANTHROPIC_API_KEY: KEY });
    expect(r.stdout + r.stderr).not.toContain(KEY);
    expect(r.stdout).toContain('bad key [secret $ANTHROPIC_API_KEY]');
    await p.cf(['build'], { ANTHROPIC_API_KEY: KEY });
    for (const f of await everyFile(p.dir)) expect(await readFile(f, 'utf8'), f).not.toContain(KEY);
  });

  it('a missing key is a clear failure, not a request', async () => {
    p = await project(anthropic(`    base_url: ${api.url}`), 10);
    const r = await p.cf(['build'], { ANTHROPIC_API_KEY: '' });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('ANTHROPIC_API_KEY is not set');
    expect(api.requests).toHaveLength(0);
  });
});

describe('kind: openai (OpenAI or a local server), real client', () => {
  it('chat completions through OPENAI_BASE_URL, with a phase overriding the model; 429 retried', async () => {
    p = await project(
      pipeline(`    kind: openai\n    model: gpt-4.1-mini\n    max_tokens: 1500`, '    model: local-llama\n'),
      20,
    );
    api.enqueue('chat', { status: 429, headers: { 'retry-after-ms': '20' } });
    const r = await p.cf(['build', '--json'], { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: `${api.url}/v1` });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const calls = api.requests.filter((q) => q.path === '/v1/chat/completions');
    expect(calls).toHaveLength(3);
    expect(calls[0]!.body).toMatchObject({ model: 'local-llama', max_tokens: 1500 });
    expect(calls[0]!.body.messages[0]).toEqual({ role: 'system', content: INTELLIGENCE.trimEnd() });
    const out = JSON.parse(await p.read('out/pairs.json')) as Array<{ id: string; answered: boolean }>;
    expect(out).toHaveLength(20);
    expect(out.every((x) => x.answered)).toBe(true);
  });
});
