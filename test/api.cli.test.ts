import { readdir, readFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, it, type TestContext } from 'vitest';
import { startFakeApi, type FakeApi } from './helpers/fakeApi.js';
import { events, Project } from './helpers/project.js';
import { anthropic, INTELLIGENCE, KEY } from './helpers/apiPipelines.js';

/** A fake API of the test's own (the tests run side by side), closed when it ends. */
async function fakeApi(t: TestContext): Promise<FakeApi> {
  const api = await startFakeApi();
  t.onTestFinished(() => api.close());
  return api;
}

interface Summary {
  ran: string[];
  stopped: string[];
  usage: Record<string, { attempts: number; costUsd: number; cacheReadTokens: number; cacheWriteTokens: number }>;
}
const summaryOf = (stdout: string): Summary => events(stdout).at(-1) as unknown as Summary;

/** The test's project, removed when it ends. */
async function project(t: TestContext, yaml: string, seeds = 30): Promise<Project> {
  const pr = await Project.create({ seeds, pipeline: yaml });
  t.onTestFinished(() => pr.remove());
  await pr.write('prompts/pairs.md', INTELLIGENCE);
  return pr;
}

async function everyFile(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(path.join(e.parentPath, e.name));
  return out;
}

// What the runners send and record (caching, transport retries, retries with errors, budgets, Message
// Batches, a missing key, OpenAI) is tested in process through the Workspace (api.test.ts). Here: a cf
// killed while its Message Batch runs, and the key kept out of everything the process prints and writes.
// The tests run side by side (describe.concurrent): the first one mostly waits for the dead cf's lock to
// go stale.
describe.concurrent('kind: anthropic, against a local fake of the API (real SDK client)', () => {
  it('a build killed while its Message Batch runs follows that batch next time instead of submitting again', async (t) => {
    const { expect } = t;
    const api = await fakeApi(t);
    const p = await project(t, anthropic(`    base_url: ${api.url}\n    mode: batch\n    poll_interval: 20ms`), 30);
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

  it('a dead server: each batch fails at once (no repeats), naming the URL and the runner; exit 1', async (t) => {
    const { expect } = t;
    // A loopback port nothing listens on (taken, then let go).
    const s = createServer();
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => s.close(() => resolve()));
    const p = await project(t, anthropic(`    base_url: ${url}`), 20);
    const r = await p.cf(['build'], { ANTHROPIC_API_KEY: KEY });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot connect to ${url} (runner model): connection refused; is the server running?`);
    // At once: under 10 s (repeats would back off from 0.5 s, doubling: 31 s for 6); a loaded machine may take over 1 s.
    expect(r.stdout).toMatch(/cf: FAILED: 0 ran, 0 fresh, 2 failed in (\d+ ms|\d\.\d s)\n/);
  });

  it('the API key never reaches records, prompts on disk, logs or output', async (t) => {
    const { expect } = t;
    const api = await fakeApi(t);
    const p = await project(t, anthropic(`    base_url: ${api.url}`), 10);
    api.enqueue('messages', { status: 400, body: { type: 'error', error: { type: 'invalid_request_error', message: `bad key ${KEY}` } } });
    const r = await p.cf(['build', '--json'], { ANTHROPIC_API_KEY: KEY });
    expect(r.stdout + r.stderr).not.toContain(KEY);
    expect(r.stdout).toContain('bad key [secret $ANTHROPIC_API_KEY]');
    await p.cf(['build'], { ANTHROPIC_API_KEY: KEY });
    for (const f of await everyFile(p.dir)) expect(await readFile(f, 'utf8'), f).not.toContain(KEY);
  });
});
