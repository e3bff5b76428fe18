import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { QueueEvents } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { openCoordinator, openWorker, type Coordinator } from '../src/app/queue.js';
import { Workspace } from '../src/app/workspace.js';
import { parseCommandLine } from '../src/cli/args.js';
import { statusCommand } from '../src/cli/commands/status.js';
import { parseQueueUrl, type QueueLocation } from '../src/config/queueConfig.js';
import { connectionOf } from '../src/exec/queue/connection.js';
import { QUEUE_NAME } from '../src/exec/queue/jobs.js';
import { eventText } from '../src/cli/format/events.js';
import type { BuildEvent } from '../src/events/types.js';
import { LocalExecutor } from '../src/exec/localExecutor.js';
import { backendBlobs, type OutputBlobs } from '../src/exec/queue/outputBlobs.js';
import type { QueueWorker, WorkerLog } from '../src/exec/queue/worker.js';
import { DirectoryBackend } from '../src/store/remote/directory.js';
import { FakeAgent, echoAgent } from './helpers/fakeAgent.js';
import { TWO_PHASES } from './helpers/project.js';
import { freePort, RedisServer } from './helpers/redis.js';
import { Bench } from './helpers/workspace.js';

/*
 * cf build --queue and cf worker in memory: a coordinator (the real Workspace, its executor the queue's)
 * and workers (each the real QueueWorker on a checkout of its own, with an in-process fake agent) in one
 * process, through a real redis-server of the test's own. The CLI test (queue.cli.test.ts) kills real
 * processes.
 */

/** The two phases of helpers/project.ts in batches of 10, run by `runner` (the checkout's agent.js), with the runner's `limits` lines. */
const PIPELINE = (runner = '[node, agent.js]', limits = ''): string =>
  TWO_PHASES()
    .replace('batch_size: 20', 'batch_size: 10')
    .replace(/    command: .*\n    timeout: 20s\n/, `    command: ${runner}\n${limits}`);

/** The limits' window in the limit test. */
const WINDOW_MS = 300;
/**
 * How late an agent may log its start after Redis granted it: on a loaded machine (a suite on 2 cores) one
 * start's lag can differ from another's by a tenth of a second. Half a window keeps that apart from what a
 * broken limit looks like: without it, all 9 start within a few ms of each other.
 */
const SLACK_MS = WINDOW_MS / 2;

const AGENT = '// the agent (its runs are the fake agent\'s in memory; its content is part of the keys)\n';

let redis: RedisServer;
const cleanup: Array<() => Promise<unknown> | void> = [];

beforeAll(async () => {
  redis = await RedisServer.start();
});

afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

afterAll(async () => {
  await redis.stop();
});

async function checkout(o: { seeds?: number; pipeline?: string; agent?: string } = {}): Promise<Bench> {
  const b = await Bench.create({ seeds: o.seeds ?? 60, pipeline: o.pipeline ?? PIPELINE(), files: { 'agent.js': o.agent ?? AGENT } });
  cleanup.push(() => b.remove());
  return b;
}

interface RunningWorker {
  name: string;
  fake: FakeAgent;
  logs: WorkerLog[];
  worker: QueueWorker;
}

async function startWorker(
  b: Bench,
  name: string,
  o: { jobs?: number; blobs?: OutputBlobs | null; limitWindowMs?: number; fake?: FakeAgent; server?: RedisServer; location?: QueueLocation } = {},
): Promise<RunningWorker> {
  const ws = await Workspace.open(b.dir);
  if (!ws.ok) throw new Error(JSON.stringify(ws.error));
  const fake = o.fake ?? new FakeAgent();
  const inputs = ws.value.inputs;
  const executor = new LocalExecutor({ phase: (n) => inputs.graph.phase(n), jobs: o.jobs ?? 2, runnerFor: () => fake.runner(), validatorFor: () => null });
  const logs: WorkerLog[] = [];
  const { worker, close } = await openWorker(ws.value, {
    location: o.location ?? (o.server ?? redis).location,
    jobs: o.jobs ?? 2,
    name,
    executor,
    blobs: o.blobs ?? null,
    log: (e) => logs.push(e),
    ...(o.limitWindowMs !== undefined ? { limitWindowMs: o.limitWindowMs } : {}),
  });
  const why = await worker.start();
  if (why) throw new Error(why);
  cleanup.push(async () => {
    await worker.stop(true);
    close();
  });
  return { name, fake, logs, worker };
}

/** A build of `c` whose jobs go to the queue; the coordinator's own events beside the build's. */
async function queueBuild(
  c: Bench,
  o: { blobs?: OutputBlobs | null; jobs?: number; server?: RedisServer; location?: QueueLocation; downAfterMs?: number; maxCost?: number; signal?: AbortSignal } = {},
): Promise<{ built: Awaited<ReturnType<Bench['build']>>; coordinator: Coordinator; told: BuildEvent[] }> {
  const told: BuildEvent[] = [];
  const opened = await openCoordinator(await c.open(), {
    location: o.location ?? (o.server ?? redis).location,
    emit: (e) => told.push(e),
    jobs: o.jobs ?? 8,
    maxCost: o.maxCost ?? null,
    blobs: o.blobs ?? null,
    ...(o.downAfterMs !== undefined ? { downAfterMs: o.downAfterMs } : {}),
  });
  if (!('ok' in opened)) throw new Error(opened.unreachable);
  c.wrapExecutor = () => opened.ok.executor;
  try {
    const call = { jobs: o.jobs ?? 8, ...(o.maxCost !== undefined ? { maxCost: o.maxCost } : {}), ...(o.signal ? { signal: o.signal } : {}) };
    return { built: await c.build([], call), coordinator: opened.ok, told };
  } finally {
    await opened.ok.finish();
  }
}

/** A promise and its resolve: a barrier the fake agents wait on (no sleep). */
function barrier(): { wait: Promise<void>; open(): void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

describe('cf build --queue with cf worker (in memory, a real Redis)', () => {
  it('runs every batch exactly once, on several workers, and writes what a local build writes', async () => {
    const cache = await mkdtemp(path.join(tmpdir(), 'cf-queue-cache-'));
    cleanup.push(() => rm(cache, { recursive: true, force: true }));
    const blobs = backendBlobs(new DirectoryBackend(cache));
    const local = await checkout();
    await local.build();

    // Each worker's first run waits until two workers have a run: the jobs cannot all go to one.
    const started = new Set<string>();
    const two = barrier();
    const workers: RunningWorker[] = [];
    for (const name of ['w1', 'w2', 'w3']) {
      const fake = new FakeAgent();
      fake.agent = async (req) => {
        started.add(name);
        if (started.size >= 2) two.open();
        await two.wait;
        return echoAgent(req);
      };
      workers.push(await startWorker(await checkout(), name, { fake, blobs }));
    }
    const c = await checkout();
    const { built, told } = await queueBuild(c, { blobs });

    expect(built.exitCode).toBe(0);
    expect(told[0]).toMatchObject({ event: 'queue', queue: redis.url, workers: expect.arrayContaining(['w1', 'w2', 'w3']) });
    const targets = ['pairs', 'legos'].flatMap((p) => [1, 2, 3, 4, 5, 6].map((k) => `${p}#${k}`)).sort();
    // Every batch ran once over all the workers (each run is logged by the worker's fake agent).
    const runs = workers.flatMap((w) => w.fake.runs.map((r) => r.target));
    expect(runs.sort()).toEqual(targets);
    const on = workers.filter((w) => w.fake.runs.length > 0).map((w) => w.name);
    expect(on.length).toBeGreaterThanOrEqual(2);
    // The coordinator says which worker runs which batch, and records each batch once.
    const startedOn = built.events.flatMap((e) => (e.event === 'started' ? [[e.target, e.worker]] : []));
    expect(startedOn.map(([t]) => t).sort()).toEqual(targets);
    for (const [t, w] of startedOn) expect(workers.find((x) => x.name === w)!.fake.runs.map((r) => r.target)).toContain(t);
    expect(built.summary.ran.sort()).toEqual(targets);
    // The same bytes as a build on one machine.
    for (const out of ['out/pairs.json', 'out/legos.json']) expect(c.output(out)).toBe(local.output(out));
    // Nothing runs again: a second build finds it all fresh.
    const again = await queueBuild(c, { blobs });
    expect(again.built.summary.ran).toEqual([]);
    expect(workers.flatMap((w) => w.fake.runs)).toHaveLength(12);
  });

  it('a worker whose runner script differs refuses the job with the reason, and another worker takes it', async () => {
    const bad = await startWorker(await checkout({ agent: `${AGENT}// changed here\n` }), 'w-old');
    const c = await checkout({ seeds: 10, pipeline: PIPELINE().replace(/  - name: legos[\s\S]*$/, '') });
    const refused = c.when((e) => e.event === 'refused');
    const building = queueBuild(c);
    const r = (await refused) as Extract<BuildEvent, { event: 'refused' }>;
    expect(r).toMatchObject({ target: 'pairs#1', worker: 'w-old' });
    expect(r.reason).toContain('runner "fake": the file agent.js differs here');
    const good = await startWorker(await checkout(), 'w-new');
    const { built } = await building;
    expect(built.exitCode).toBe(0);
    expect(bad.fake.runs).toEqual([]);
    expect(good.fake.runs.map((x) => x.target)).toEqual(['pairs#1']);
    expect(bad.logs).toContainEqual({ kind: 'refused', target: 'pairs#1', reason: r.reason });
    await bad.worker.stop(false);
  });

  it('holds a runner limit across workers: 3 requests a window (300 ms here; 30 a minute is the same script), 9 batches on 3 workers', async () => {
    const pipeline = PIPELINE('[node, agent.js]', '    limits: {requests_per_minute: 3}\n').replace(/  - name: legos[\s\S]*$/, '');
    const starts: number[] = [];
    const workers: RunningWorker[] = [];
    for (const name of ['w1', 'w2', 'w3']) {
      const fake = new FakeAgent();
      fake.agent = (req) => {
        starts.push(Date.now());
        return echoAgent(req);
      };
      workers.push(await startWorker(await checkout({ pipeline, seeds: 90 }), name, { fake, limitWindowMs: WINDOW_MS }));
    }
    const c = await checkout({ pipeline, seeds: 90 });
    const { built } = await queueBuild(c);
    expect(built.exitCode).toBe(0);
    expect(starts).toHaveLength(9);
    expect(workers.filter((w) => w.fake.runs.length).length).toBeGreaterThanOrEqual(2);
    // No 4 starts within one sliding window (a few ms of slack: each agent logs its start after Redis, on its
    // own clock, granted it), so 9 starts take at least two windows after the first.
    starts.sort((a, b) => a - b);
    const spans = starts.slice(3).map((t, i) => t - starts[i]!);
    expect(Math.min(...spans)).toBeGreaterThanOrEqual(WINDOW_MS - SLACK_MS);
    expect(starts[8]! - starts[0]!).toBeGreaterThanOrEqual(2 * WINDOW_MS - SLACK_MS);
    console.log(`limit 3 per ${WINDOW_MS} ms over 3 workers: starts at +${starts.map((t) => t - starts[0]!).join(', +')} ms; the smallest span of 4 starts ${Math.min(...spans)} ms`);
  });

  it('--max-cost is one budget over all the workers: 2 workers, 4 runs at once, room for 3 attempts: 3 run, the rest stop with the reason', async () => {
    // A priced runner (claude-code: --max-cost takes it); the workers' fake agents say what each attempt cost.
    const pipeline = PIPELINE().replace('    command: [node, agent.js]', '    preset: claude-code\n    model: claude-sonnet-4-5').replace(/  - name: legos[\s\S]*$/, '');
    const USD = 0.01;
    // Each worker's first run waits until both workers run one: the budget is shared, not each worker's own.
    const started = new Set<string>();
    const both = barrier();
    const workers: RunningWorker[] = [];
    for (const name of ['w1', 'w2']) {
      const fake = new FakeAgent();
      fake.runnerProps = { priced: true, estimateCost: () => USD };
      fake.agent = async (req) => {
        started.add(name);
        if (started.size === 2) both.open();
        await both.wait;
        return { ...echoAgent(req), usage: { inputTokens: 100, cacheWriteTokens: 0, cacheReadTokens: 0, outputTokens: 50, costUsd: USD } };
      };
      workers.push(await startWorker(await checkout({ pipeline }), name, { fake, jobs: 2 }));
    }
    const c = await checkout({ pipeline });
    const { built } = await queueBuild(c, { maxCost: 0.035 });
    expect(built.exitCode).toBe(1);
    // 3 attempts fit in $0.035 at $0.01 each (the 4th would make $0.04), over both workers together.
    const runs = workers.flatMap((w) => w.fake.runs);
    expect(runs).toHaveLength(3);
    expect(workers.every((w) => w.fake.runs.length > 0)).toBe(true);
    expect(built.summary.ran).toHaveLength(3);
    expect(built.summary.stopped).toHaveLength(3);
    // Every dollar spent is recorded by the coordinator, and stays within the budget.
    expect(built.summary.usage.pairs!.costUsd).toBeCloseTo(3 * USD, 6);
    expect(built.summary.usage.pairs!.costUsd).toBeLessThanOrEqual(0.035);
    const stopped = built.events.filter((e) => e.event === 'stopped');
    expect(stopped).toHaveLength(3);
    for (const e of stopped) expect(eventText(e)).toMatchObject({ reason: expect.stringContaining('would exceed --max-cost $0.0350') });
  });

  it('Redis gone mid-build: the coordinator says so, ends with exit 1 and records nothing half-done', async () => {
    const own = await RedisServer.start();
    const fake = new FakeAgent();
    fake.knobs = { hangText: 'seed number' };
    const w = await startWorker(await checkout(), 'w', { fake, server: own });
    const c = await checkout({ seeds: 10, pipeline: PIPELINE().replace(/  - name: legos[\s\S]*$/, '') });
    const building = queueBuild(c, { server: own, downAfterMs: 400 });
    await fake.hanging.next();
    await own.stop();
    const { built, told } = await building;
    expect(built.exitCode).toBe(1);
    expect(told.find((e) => e.event === 'queue' && e.down)).toMatchObject({ event: 'queue', queue: own.url });
    expect(built.summary.ran).toEqual([]);
    expect(built.summary.cancelled).toEqual(['pairs#1']);
    expect(c.store.targets()).toEqual([]);
    // The worker's agent is stopped; with no Redis to give its job back to, the worker just lets go.
    await w.worker.stop(true, { force: true });
    expect(fake.runs).toHaveLength(1);
  });
});

/** What a command printed on stdout, and its exit code (cf status run in this process). */
async function printed(command: () => Promise<number>): Promise<{ code: number; out: string }> {
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    return { code: await command(), out };
  } finally {
    spy.mockRestore();
  }
}

describe('cf status with a queue: which worker runs which batch', () => {
  it('lists the batches running on workers (worker, attempt, time) and how many wait, as text and as --json', async () => {
    // A database of its own, as a project's (every job in it is this test's).
    const url = `${redis.url}/3`;
    const location = parseQueueUrl(url);
    if (!location.ok) throw new Error(location.error);
    const pipeline = PIPELINE().replace(/  - name: legos[\s\S]*$/, '');
    const fake = new FakeAgent();
    fake.knobs = { hangText: 'seed number' };
    await startWorker(await checkout({ pipeline }), 'w1', { fake, jobs: 3, location: location.value });
    // The test hears the coordinator's 6 jobs arrive (from the stream's start: none is missed).
    const events = new QueueEvents(QUEUE_NAME, { connection: connectionOf(location.value), lastEventId: '0-0' });
    cleanup.push(() => events.close());
    let added = 0;
    const six = new Promise<void>((resolve) => events.on('added', () => ++added === 6 && resolve()));
    const c = await checkout({ pipeline, seeds: 60 });
    const stop = new AbortController();
    const building = queueBuild(c, { location: location.value, signal: stop.signal });
    const held = await Promise.all([fake.hanging.next(), fake.hanging.next(), fake.hanging.next(), six]);
    const targets = held.flatMap((h) => (h ? [h.target] : [])).sort();

    const json = await printed(() => statusCommand({ dir: c.dir, json: true, queue: url }, []));
    expect(json.code).toBe(0);
    const report = JSON.parse(json.out) as { phases: unknown[]; queue: unknown };
    expect(report.phases).toHaveLength(1);
    const running = targets.map((target) => ({ target, worker: 'w1', attempt: 1, attempts: 3, since: expect.any(Number) }));
    expect(report.queue).toEqual({ url, running, waiting: 3 });
    const text = await printed(() => statusCommand({ dir: c.dir, json: false, queue: url }, []));
    expect(text.out).toContain('to run:');
    expect(text.out).toMatch(new RegExp(`\\nqueue ${url}: 3 running on workers, 3 waiting for one\\n${targets.map((t) => `  ${t} on w1 \\(attempt 1 of 3, [0-9.]+ m?s\\)\\n`).join('')}$`));

    stop.abort();
    expect((await building).built.summary.ran).toEqual([]);
  });

  it("a queue that cannot be reached: the checkout's state, and a line saying so (exit 0); --no-queue does not ask", async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    // The queue from pipeline.yaml (as cf build takes it).
    const c = await checkout({ pipeline: `queue: ${url}\n${PIPELINE()}`, seeds: 10 });
    const text = await printed(() => statusCommand({ dir: c.dir, json: false }, []));
    expect(text.code).toBe(0);
    expect(text.out).toContain('to run:');
    expect(text.out).toMatch(new RegExp(`\\nqueue ${url}: could not be reached \\(connect ECONNREFUSED [^)]*\\); the state above is this checkout's records only\\n$`));
    const json = await printed(() => statusCommand({ dir: c.dir, json: true }, []));
    expect(json.code).toBe(0);
    expect(JSON.parse(json.out)).toMatchObject({ phases: [{ phase: 'pairs' }, { phase: 'legos' }], queue: { url, unreachable: expect.stringContaining('ECONNREFUSED') } });
    const none = await printed(() => statusCommand({ dir: c.dir, json: true, queue: false }, []));
    expect(JSON.parse(none.out)).not.toHaveProperty('queue');
    // cf status takes --queue URL and --no-queue as cf build does.
    const opts = (argv: string[]): unknown => {
      const p = parseCommandLine(argv);
      return p.kind === 'run' ? p.run.opts : p;
    };
    expect(opts(['status', '--queue', url])).toMatchObject({ queue: url });
    expect(opts(['status', '--no-queue'])).toMatchObject({ queue: false });
    expect(opts(['status', '--queue', 'http://x'])).toMatchObject({ kind: 'error', error: { message: expect.stringContaining('--queue: "http://x" is not a Redis URL') } });
  });
});
