import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openCoordinator, openWorker, type Coordinator } from '../src/app/queue.js';
import { Workspace } from '../src/app/workspace.js';
import type { BuildEvent } from '../src/events/types.js';
import { LocalExecutor } from '../src/exec/localExecutor.js';
import { backendBlobs, type OutputBlobs } from '../src/exec/queue/outputBlobs.js';
import type { QueueWorker, WorkerLog } from '../src/exec/queue/worker.js';
import { DirectoryBackend } from '../src/store/remote/directory.js';
import { FakeAgent, echoAgent } from './helpers/fakeAgent.js';
import { RedisServer } from './helpers/redis.js';
import { Bench } from './helpers/workspace.js';

/*
 * cf build --queue and cf worker in memory: a coordinator (the real Workspace, its executor the queue's)
 * and workers (each the real QueueWorker on a checkout of its own, with an in-process fake agent) in one
 * process, through a real redis-server of the test's own. The CLI test (queue.cli.test.ts) kills real
 * processes.
 */

const PIPELINE = (runner = '[node, agent.js]', limits = ''): string => `seeds: seeds.json
batch_size: 10
runners:
  fake:
    command: ${runner}
${limits}phases:
  - name: pairs
    from: seeds
    intelligence: prompts/pairs.md
    runner: fake
    output: out/pairs.json
  - name: legos
    from: pairs
    intelligence: prompts/legos.md
    runner: fake
    output: out/legos.json
`;

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

async function startWorker(b: Bench, name: string, o: { jobs?: number; blobs?: OutputBlobs | null; limitWindowMs?: number; fake?: FakeAgent } = {}): Promise<RunningWorker> {
  const ws = await Workspace.open(b.dir);
  if (!ws.ok) throw new Error(JSON.stringify(ws.error));
  const fake = o.fake ?? new FakeAgent();
  const inputs = ws.value.inputs;
  const executor = new LocalExecutor({ phase: (n) => inputs.graph.phase(n), jobs: o.jobs ?? 2, runnerFor: () => fake.runner(), validatorFor: () => null });
  const logs: WorkerLog[] = [];
  const { worker, close } = await openWorker(ws.value, {
    location: redis.location,
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
async function queueBuild(c: Bench, o: { blobs?: OutputBlobs | null; jobs?: number } = {}): Promise<{ built: Awaited<ReturnType<Bench['build']>>; coordinator: Coordinator; told: BuildEvent[] }> {
  const told: BuildEvent[] = [];
  const opened = await openCoordinator(await c.open(), { location: redis.location, emit: (e) => told.push(e), jobs: o.jobs ?? 8, maxCost: null, blobs: o.blobs ?? null });
  if (!('ok' in opened)) throw new Error(opened.unreachable);
  c.wrapExecutor = () => opened.ok.executor;
  try {
    return { built: await c.build([], { jobs: o.jobs ?? 8 }), coordinator: opened.ok, told };
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
});
