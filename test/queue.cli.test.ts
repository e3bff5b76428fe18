import { afterAll, describe, expect, it } from 'vitest';
import { openCoordinator, openWorker } from '../src/app/queue.js';
import { Workspace } from '../src/app/workspace.js';
import { LocalExecutor } from '../src/exec/localExecutor.js';
import type { WorkerLog } from '../src/exec/queue/worker.js';
import { FakeAgent } from './helpers/fakeAgent.js';
import { CF_BIN, isRunning, killLeftovers, Project, readySignal, stillRunningAfter, targetsOf, TWO_PHASES } from './helpers/project.js';
import { freePort, RedisServer } from './helpers/redis.js';
import { Bench } from './helpers/workspace.js';
import { execa } from 'execa';

/*
 * The queue's real processes where only they will do: a `cf worker` killed with SIGKILL mid-run, a
 * `cf build --queue` killed with SIGKILL, a queue that does not answer. The rest is in memory
 * (queue.test.ts). Each test has its own redis-server; the two kill tests run side by side.
 */

/** One phase, batches of 10. */
const ONE_PHASE = TWO_PHASES().replace('batch_size: 20', 'batch_size: 10').replace(/  - name: legos[\s\S]*$/, '');

/** A job's lock: a killed worker's job goes to another worker once it expires (and the stalled check runs). */
const LOCK_MS = '1000';

const servers: RedisServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.stop();
});

async function redis(): Promise<RedisServer> {
  const s = await RedisServer.start();
  servers.push(s);
  return s;
}

/** A real `cf worker` in `dir`; resolves once it says it is waiting for jobs. `said(text)`: once it has said that on stderr. */
async function cfWorker(dir: string, url: string, name: string, env: Record<string, string> = {}) {
  const child = execa('node', [CF_BIN, 'worker', '--queue', url, '-j', '1', '--name', name], { cwd: dir, reject: false, env: { CI: '1', CF_QUEUE_LOCK_MS: LOCK_MS, ...env } });
  let out = '';
  let err = '';
  const listening: Array<() => void> = [];
  child.stderr!.on('data', (d: Buffer) => {
    err += String(d);
    for (const l of listening) l();
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += String(d);
      if (out.includes('waiting for jobs')) resolve();
    });
    void child.then((r) => reject(new Error(`cf worker ended: ${String(r.stderr)}`)));
  });
  const said = (text: string): Promise<void> =>
    new Promise((resolve) => {
      const check = (): void => void (err.includes(text) && resolve());
      listening.push(check);
      check();
    });
  return { child, output: () => out, said };
}

/** An in-memory coordinator's build of `dir` (its store on disk, as cf's), its jobs through the queue. */
async function coordinate(dir: string, url: string): Promise<{ bench: Bench; build: Promise<Awaited<ReturnType<Bench['build']>>>; attached(): number }> {
  const b = Bench.on(dir);
  b.disk = true;
  const server = servers.find((s) => s.url === url)!;
  const opened = await openCoordinator(await b.open(), { location: server.location, emit: () => undefined, jobs: 4, maxCost: null, blobs: null });
  if (!('ok' in opened)) throw new Error(opened.unreachable);
  b.wrapExecutor = () => opened.ok.executor;
  return { bench: b, build: b.build([], { jobs: 4 }).finally(() => opened.ok.finish()), attached: () => opened.ok.executor.attached };
}

describe.concurrent('cf worker and cf build --queue, killed', () => {
  it('kill -9 of a worker during an agent run: the batch completes on another worker, recorded once, the agent gone', async () => {
    const server = await redis();
    const p = await Project.create({ seeds: 10, pipeline: ONE_PHASE });
    const ready = await readySignal(p.dir);
    try {
      // The first worker's agent hangs (and tells the test); the second's does not.
      const first = await cfWorker(p.dir, server.url, 'doomed', { FAKE_HANG_TEXT: 'seed number', FAKE_READY_SOCKET: ready.path });
      const c = await coordinate(p.dir, server.url);
      const hanging = await ready.next();
      first.child.kill('SIGKILL');
      await first.child;
      // Its watchdog takes its agent with it.
      expect(await stillRunningAfter([hanging.agent, hanging.grandchild])).toEqual([]);
      const second = await cfWorker(p.dir, server.url, 'spare');
      const built = await c.build;
      expect(built.exitCode).toBe(0);
      expect(built.summary.ran).toEqual(['pairs#1']);
      expect(built.events.filter((e) => e.event === 'ran')).toHaveLength(1);
      expect(built.events.find((e) => e.event === 'started')).toMatchObject({ worker: 'doomed' });
      // Two runs of the batch: the dead worker's (never recorded) and the spare's.
      expect(targetsOf(await p.takeRuns())).toEqual(['pairs#1', 'pairs#1']);
      expect(second.output()).toContain('pairs#1 done');
      expect(JSON.parse(c.bench.output('out/pairs.json')!)).toHaveLength(10);
      second.child.kill('SIGTERM');
      expect((await second.child).exitCode).toBe(0);
    } finally {
      ready.close();
      await p.remove();
    }
  });

  it('SIGTERM twice to a worker mid-run: its agent stopped (the whole tree), the job back to the queue, exit 130; another worker runs it, recorded once', async () => {
    const server = await redis();
    const p = await Project.create({ seeds: 10, pipeline: ONE_PHASE });
    const ready = await readySignal(p.dir);
    const pids: number[] = [];
    try {
      // The agent behaves as a real one when cf is gone: it stays, and its grandchild leaves its process group.
      const w = await cfWorker(p.dir, server.url, 'stopping', { FAKE_HANG_TEXT: 'seed number', FAKE_HANG_STAYS: '1', FAKE_READY_SOCKET: ready.path });
      const c = await coordinate(p.dir, server.url);
      const hanging = await ready.next();
      pids.push(hanging.agent, hanging.grandchild);
      w.child.kill('SIGTERM');
      // The first is heard before the second is sent (two signals at once may arrive as one).
      await w.said('taking no more jobs');
      w.child.kill('SIGTERM');
      expect((await w.child).exitCode).toBe(130);
      // It waited for its agent's tree to end: no polling.
      expect(pids.filter(isRunning)).toEqual([]);
      expect(w.output()).toContain('released pairs#1: back to the queue for another worker');
      // The job is in the queue again: a worker (in this process) takes it, and the build records it once.
      const ws = await Workspace.open(p.dir);
      if (!ws.ok) throw new Error(JSON.stringify(ws.error));
      const inputs = ws.value.inputs;
      const fake = new FakeAgent();
      const { worker, close } = await openWorker(ws.value, {
        location: server.location,
        jobs: 1,
        name: 'spare',
        executor: new LocalExecutor({ phase: (n) => inputs.graph.phase(n), jobs: 1, runnerFor: () => fake.runner(), validatorFor: () => null }),
        blobs: null,
        log: () => undefined,
      });
      expect(await worker.start()).toBeNull();
      const built = await c.build;
      await worker.stop(false);
      close();
      expect(built.exitCode).toBe(0);
      expect(built.summary.ran).toEqual(['pairs#1']);
      expect(built.events.filter((e) => e.event === 'ran')).toHaveLength(1);
      expect(fake.runs.map((r) => r.target)).toEqual(['pairs#1']);
      // The released run (its agent logged it) was never recorded: the spare's output was.
      expect(targetsOf(await p.takeRuns())).toEqual(['pairs#1']);
      expect(JSON.parse(c.bench.output('out/pairs.json')!)).toHaveLength(10);
    } finally {
      killLeftovers(pids);
      ready.close();
      await p.remove();
    }
  });

  it('kill -9 of the coordinator, then a build again: it takes the jobs the workers finished, nothing runs twice', async () => {
    const server = await redis();
    const p = await Project.create({ seeds: 20, pipeline: ONE_PHASE.replace('output: out/pairs.json', 'output: out/pairs.json\n  - name: legos\n    intelligence: prompts/legos.md\n    runner: fake\n    output: out/legos.json') });
    try {
      // A worker in this process, its fake agent holding the first runs until the coordinator is dead.
      const ws = await Workspace.open(p.dir);
      if (!ws.ok) throw new Error(JSON.stringify(ws.error));
      const inputs = ws.value.inputs;
      const fake = new FakeAgent();
      fake.knobs = { gateText: 'seed number' };
      const logs: WorkerLog[] = [];
      let done: () => void;
      const twoDone = new Promise<void>((r) => (done = r));
      const { worker, close } = await openWorker(ws.value, {
        location: server.location,
        jobs: 2,
        name: 'w',
        executor: new LocalExecutor({ phase: (n) => inputs.graph.phase(n), jobs: 2, runnerFor: () => fake.runner(), validatorFor: () => null }),
        blobs: null,
        log: (e) => {
          logs.push(e);
          if (logs.filter((x) => x.kind === 'done').length === 2) done();
        },
      });
      expect(await worker.start()).toBeNull();
      const coordinator = execa('node', [CF_BIN, 'build', '--queue', server.url, '--json'], { cwd: p.dir, reject: false, env: { CI: '1' } });
      const held = [await fake.gated.next(), await fake.gated.next()];
      coordinator.kill('SIGKILL');
      await coordinator;
      fake.knobs = {};
      for (const h of held) fake.release(h.target);
      await twoDone;
      const again = await coordinate(p.dir, server.url);
      const built = await again.build;
      expect(built.exitCode).toBe(0);
      expect(again.attached()).toBe(2);
      expect(built.summary.ran.sort()).toEqual(['legos#1', 'legos#2', 'pairs#1', 'pairs#2']);
      // Every batch ran once: the two the dead coordinator enqueued were taken from the queue, not run again.
      expect(fake.runs.map((r) => r.target).sort()).toEqual(['legos#1', 'legos#2', 'pairs#1', 'pairs#2']);
      await worker.stop(false);
      close();
    } finally {
      await p.remove();
    }
  });

  it('a queue that does not answer: cf build --queue says so and exits 1, touching nothing', async () => {
    const p = await Project.create({ seeds: 10, pipeline: ONE_PHASE });
    try {
      const url = `redis://127.0.0.1:${await freePort()}`;
      const r = await p.cf(['build', '--queue', url]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`cf: cannot reach the queue ${url}: connect ECONNREFUSED`);
      expect(r.stderr).toContain('nothing was built or recorded');
      expect(await p.takeRuns()).toEqual([]);
      await expect(p.read('out/pairs.json')).rejects.toThrow();
    } finally {
      await p.remove();
    }
  });
});
