import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { EventBus } from '../src/events/bus.js';
import type { StampedEvent } from '../src/events/types.js';
import { Hub } from '../src/serve/hub.js';
import type { DashboardProgress } from '../src/serve/progress.js';
import { startServer, type DashboardServer } from '../src/serve/server.js';
import { snapshot } from '../src/serve/snapshot.js';
import { resetSecrets } from '../src/util/secrets.js';
import { Bench, summaryEvent } from './helpers/workspace.js';

/*
 * The dashboard's API, in-process on a free loopback port, over the composed Workspace in memory (Bench):
 * the progress JSON against a build held mid-way, the event stream resumed by seq, the token rules, and
 * requests for paths outside what it serves.
 */

let bench: Bench | undefined;
const servers: DashboardServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  delete process.env.CF_TEST_SERVE_API_KEY;
  resetSecrets();
  await bench?.remove();
  bench = undefined;
});

/** A bench, its dashboard (fed by the builds' bus), served on `host`. */
async function served(b: Bench, host = '127.0.0.1', token: string | null = 'tok-123'): Promise<{ server: DashboardServer; hub: Hub; bus: EventBus }> {
  const hub = new Hub(await snapshot(await b.open()), async () => snapshot(await b.open()));
  const bus = new EventBus({ buildId: 'build-1' });
  bus.subscribe((e) => hub.push(e));
  const server = await startServer({ workspace: () => b.open(), hub }, { host, port: 0, token });
  servers.push(server);
  return { server, hub, bus };
}

/** A raw HTTP request (the path as given: no URL normalisation), its status and body. */
function call(server: DashboardServer, pathname: string, o: { method?: string; headers?: Record<string, string>; body?: unknown; host?: string } = {}): Promise<{ status: number; text: string; json: () => any }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: o.host ?? new URL(server.url).hostname, port: server.port, path: pathname, method: o.method ?? 'GET', headers: { ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}), ...o.headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, text, json: () => JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(o.body !== undefined ? JSON.stringify(o.body) : undefined);
  });
}

/** The server-sent events of /api/events from `query`/`lastEventId` until `until` matches one. */
function stream(server: DashboardServer, query: string, until: (e: StampedEvent) => boolean, lastEventId?: string): Promise<Array<{ id: string; e: StampedEvent }>> {
  return new Promise((resolve, reject) => {
    const got: Array<{ id: string; e: StampedEvent }> = [];
    const req = request({ host: '127.0.0.1', port: server.port, path: `/api/events${query}`, headers: lastEventId ? { 'last-event-id': lastEventId } : {} }, (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        buf += c;
        let at: number;
        while ((at = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, at);
          buf = buf.slice(at + 2);
          const id = /^id: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (!id || !data) continue;
          const e = JSON.parse(data) as StampedEvent;
          got.push({ id, e });
          if (until(e)) {
            req.destroy();
            resolve(got);
          }
        }
      });
    });
    req.on('error', (err) => (got.length ? undefined : reject(err)));
    req.end();
  });
}

describe('cf serve: the dashboard API (in-process, the Workspace in memory)', () => {
  it('/api/progress follows a build: counts, current batch, durations and the estimate mid-way; the events resume by seq', async () => {
    const b = (bench = await Bench.create({ seeds: 60 }));
    const { server, bus } = await served(b);
    const idle = (await call(server, '/api/progress')).json() as DashboardProgress;
    expect(idle).toMatchObject({ course: expect.any(String), totalSeeds: 60, totalBatches: 6, status: 'idle', currentPhase: null, estimatedCompletion: null });
    expect(idle.progress.pairs).toMatchObject({ total: 3, completed: 0, pending: 3, inProgress: 0, failed: 0 });

    // pairs#2 is held mid-run, once pairs#1 and pairs#3 are done.
    b.knobs = { gateText: 'seed number 25', onlyPhase: 'pairs' };
    const others = Promise.all(['pairs#1', 'pairs#3'].map((t) => b.when((e) => e.event === 'ran' && e.target === t)));
    const build = b.build([], { emit: bus.emitter });
    const held = await b.gated.next();
    await others;
    const mid = (await call(server, '/api/progress')).json() as DashboardProgress;
    expect(mid).toMatchObject({ status: 'running', buildId: 'build-1', currentPhase: 'pairs', currentBatch: 2 });
    expect(mid.progress.pairs).toMatchObject({ total: 3, completed: 2, inProgress: 1, pending: 0, failed: 0, durations: { count: 2 } });
    const legos = mid.progress.legos!;
    expect(legos.pending + legos.inProgress + legos.completed).toBe(3);
    expect(mid.phases[0]!.batches.map((c) => c.state)).toEqual(['done', 'running', 'done']);
    expect(Date.parse(mid.estimatedCompletion!)).toBeGreaterThanOrEqual(Date.now() - 1000);
    const seenMid = mid.lastEvent!.seq;
    b.release(held.target);
    // The summary, as cf build emits it after the build.
    bus.emit(summaryEvent(await build));

    const end = (await call(server, '/api/progress')).json() as DashboardProgress;
    expect(end).toMatchObject({ status: 'done', estimatedCompletion: null, progress: { pairs: { completed: 3, durations: { count: 3 } }, legos: { completed: 3 } } });
    expect(end.progress.pairs!.usage.build.attempts).toBe(3);

    // Resumed after the event seen mid-way: every later one, in order, up to the summary.
    const resumed = await stream(server, `?build=build-1&since=${seenMid}`, (e) => e.event === 'summary');
    expect(resumed.map((x) => x.e.seq)).toEqual(Array.from({ length: resumed.length }, (_, i) => seenMid + 1 + i));
    expect(resumed.map((x) => x.id)).toEqual(resumed.map((x) => String(x.e.seq)));
    // So does an EventSource reconnecting (Last-Event-ID).
    const again = await stream(server, '', (e) => e.event === 'summary', String(end.lastEvent!.seq - 1));
    expect(again.map((x) => x.e.event)).toEqual(['summary']);
  });

  it('token rules: 127.0.0.1 reads without one, any other address needs it; writes always need it, in a header', async () => {
    const b = (bench = await Bench.create({ seeds: 20 }));
    await b.build();
    const local = (await served(b)).server;
    expect((await call(local, '/api/progress')).status).toBe(200);
    expect((await call(local, '/')).text).toContain('<meta name="cf-token" content="tok-123">');
    const item = { phase: 'pairs', id: 'S0005', set: { id: 'S0005', text: 'pairs(reviewed)' } };
    expect((await call(local, '/api/corrections', { method: 'POST', body: item })).status).toBe(401);
    expect((await call(local, '/api/corrections?token=tok-123', { method: 'POST', body: item })).status).toBe(401);
    expect((await call(local, '/api/corrections', { method: 'POST', body: item, headers: { 'x-cf-token': 'wrong' } })).status).toBe(401);
    // A page elsewhere reaching the loopback by another name (DNS rebinding) is refused.
    expect((await call(local, '/api/progress', { headers: { host: 'evil.example:80' } })).status).toBe(403);
    const saved = await call(local, '/api/corrections', { method: 'POST', body: item, headers: { 'x-cf-token': 'tok-123' } });
    expect(saved.status).toBe(200);
    expect(saved.json()).toMatchObject({ kind: 'saved', target: 'pairs#1', file: 'corrections/pairs.jsonl' });
    const batch = (await call(local, '/api/batches/pairs/1')).json();
    expect(batch.items.find((x: { id: string }) => x.id === 'S0005')).toMatchObject({ output: { id: 'S0005', text: 'pairs(reviewed)' }, generated: { text: 'pairs(seed number 5)' } });

    // Another address: every request needs the token (a query parameter will do for reads).
    const other = (await served(b, '127.0.0.2')).server;
    expect((await call(other, '/api/progress')).status).toBe(401);
    expect((await call(other, '/')).status).toBe(401);
    expect((await call(other, '/api/progress?token=tok-123')).status).toBe(200);
    expect((await call(other, '/api/progress', { headers: { authorization: 'Bearer tok-123' } })).status).toBe(200);
    // A generated token when none is given.
    const generated = (await served(b, '127.0.0.2', null)).server;
    expect(generated.token).toMatch(/^[\w-]{20,}$/);
    expect(generated.tokenRequired).toBe(true);
  });

  it('files by phase, batch and attempt only: traversal is a 404; what is served is scrubbed of secrets', async () => {
    process.env.CF_TEST_SERVE_API_KEY = 'sk-served-secret-0042';
    resetSecrets();
    const b = (bench = await Bench.create({ seeds: 20, files: { 'prompts/pairs.md': '# Pairs\nThe key is sk-served-secret-0042.\n' } }));
    b.runDirs = true;
    await b.build();
    const { server } = await served(b);
    const batch = (await call(server, '/api/batches/pairs/1')).json();
    expect(batch.attempts.map((a: { key: string }) => a.key)).toEqual(['a1']);
    const prompt = await call(server, '/api/batches/pairs/1/files/a1/prompt');
    expect(prompt.status).toBe(200);
    expect(prompt.text).toContain('The key is [secret $CF_TEST_SERVE_API_KEY].');
    for (const p of [
      '/../../etc/passwd',
      '/api/batches/..%2F..%2Fetc%2Fpasswd/1',
      '/api/batches/pairs/..%2F..%2Fetc%2Fpasswd',
      '/api/batches/pairs/1/files/a1/..%2F..%2F..%2F..%2Fetc%2Fpasswd',
      '/api/batches/pairs/1/files/..%2F..%2F..%2Fetc/passwd',
      '/api/batches/pairs/1/files/a1/prompt.md',
      '/api/batches/pairs/9/files/a1/prompt',
      '/api/batches/pairs/1/files/a9/prompt',
    ]) {
      const r = await call(server, p);
      expect(r.status, p).toBe(404);
      expect(r.text, p).not.toContain('root:');
    }
  });
});
