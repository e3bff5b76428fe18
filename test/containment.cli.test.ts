import { existsSync, readdirSync, readFileSync, watch } from 'node:fs';
import { fork } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newCgroup, releaseCgroup } from '../src/exec/processes/cgroup.js';
import { spawnTree, type SpawnOptions } from '../src/exec/processes/processes.js';
import { Project, REPO, seedsJson } from './helpers/project.js';

/**
 * No process outlives its attempt: an agent or validator (test/fixtures/escape.sh) leaves processes by
 * every way out it has (setsid, a double fork, `setsid -f`, a daemon with its descriptors closed, an
 * emptied environment, the mark unset, a process forking while it is killed), then its attempt ends by
 * its exit, a timeout, a cancel, Ctrl-C, SIGTERM, SIGHUP or kill -9 of cf. None of what it left may be
 * running after. Where cgroups cannot be written here, what the fallback promises is checked instead
 * (the routes the mark finds). Each route's processes run `sleep 3000.RUNk`: found by command line.
 */
const ESCAPE = path.join(REPO, 'test', 'fixtures', 'escape.sh');
const ROUTES = ['setsid', 'double', 'setsidf', 'closefds', 'envi', 'envisetsid', 'unsetmark', 'forker'] as const;
/** What the mark finds without a cgroup (and the process group: `envi` stays in it). */
const MARKED = ROUTES.filter((r) => r !== 'envisetsid' && r !== 'unsetmark');
/** Root, with cgroup v2 mounted read-write (this machine, CI): cf must give each process a cgroup here. */
const ROOT_WITH_CGROUPS =
  process.getuid?.() === 0 && existsSync('/proc/self/mountinfo') && /^(?:\S+ ){5}rw\b.* - cgroup2 /m.test(readFileSync('/proc/self/mountinfo', 'utf8'));
/** Whether cf gave its process a cgroup here, and so what it must stop (elsewhere: what the fallback promises). */
let inCgroup = false;
let MUST_STOP: readonly string[] = ROOT_WITH_CGROUPS ? ROUTES : MARKED;
beforeAll(async () => {
  const r = await spawnTree({ command: { argv: ['cat', '/proc/self/cgroup'] }, cwd: REPO, env: env(), stdin: null, stdout: 'capture', stderr: 'capture', timeoutMs: 30_000, signal: new AbortController().signal });
  inCgroup = r.kind === 'exited' && /^0::.*\/cf-[0-9a-f]+\/\d+$/m.test(r.stdout);
  if (inCgroup) MUST_STOP = ROUTES;
});

let runs = 0;
/** Digits unique to one use of escape.sh in this test file. */
const newRun = (): string => `${process.pid % 100000}${++runs}`.slice(-9);

/** The live processes a run left, by route (zombies waiting for init to reap them are not running). */
function left(run: string): Map<string, number[]> {
  const found = new Map<string, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const m = new RegExp(`3000\\.${run}(\\d)`).exec(readFileSync(`/proc/${name}/cmdline`, 'latin1'));
      if (!m) continue;
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (stat[stat.lastIndexOf(')') + 2] === 'Z') continue;
      const route = ROUTES[Number(m[1]) - 1]!;
      found.set(route, [...(found.get(route) ?? []), Number(name)]);
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

/**
 * Those of `routes` with a process of `run` still running after at most `ms` (killed by another process,
 * the watchdog or the spawner: polled only to see them gone).
 */
async function survivors(run: string, routes: readonly string[] = MUST_STOP, ms = 3000): Promise<string[]> {
  const until = Date.now() + ms;
  const running = (): string[] => [...left(run).keys()].filter((r) => routes.includes(r)).sort();
  let l = running();
  while (l.length && Date.now() < until) {
    await sleep(20);
    l = running();
  }
  return l;
}

/** Kills what a run left (on code without containment), until none is left. */
function reap(run: string): void {
  for (let i = 0; i < 100; i++) {
    const pids = [...left(run).values()].flat();
    if (!pids.length) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone.
      }
    }
  }
}

const usedRuns: string[] = [];
const dirs: string[] = [];
afterAll(async () => {
  usedRuns.forEach(reap);
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** Resolves once `file` exists (written by rename: whole). */
function whenExists(file: string): Promise<void> {
  return new Promise((resolve) => {
    const w = watch(path.dirname(file), () => {
      if (existsSync(file)) {
        w.close();
        resolve();
      }
    });
    if (existsSync(file)) {
      w.close();
      resolve();
    }
  });
}

/** `p`, or a rejection once `ms` have passed: what the code without the fix does is hang. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not end within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

async function escaper(then: string[]): Promise<{ run: string; dir: string; argv: string[] }> {
  const run = newRun();
  usedRuns.push(run);
  const dir = await mkdtemp(path.join(tmpdir(), 'cf-escape-'));
  dirs.push(dir);
  return { run, dir, argv: ['sh', ESCAPE, run, dir, ROUTES.join(','), ...then] };
}

function env(): Record<string, string> {
  const e: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) e[k] = v;
  return e;
}

describe.concurrent('containment: an agent or validator process (spawnTree)', () => {
  const options = (argv: string[], over: Partial<SpawnOptions>): SpawnOptions => ({
    command: { argv },
    cwd: REPO,
    env: env(),
    stdin: null,
    stdout: 'capture',
    stderr: 'capture',
    timeoutMs: 30_000,
    signal: new AbortController().signal,
    ...over,
  });

  it("its exit ends what it started, whatever it did to detach; its exit code and output are its own (files, as an agent's)", async () => {
    const { run, dir, argv } = await escaper(['exec', 'sh', '-c', 'echo answered; exit 3']);
    const r = await within(spawnTree(options(argv, { stdout: { file: path.join(dir, 'out') }, stderr: { file: path.join(dir, 'err') } })), 20_000, 'the agent');
    expect(r).toMatchObject({ kind: 'exited', code: 3 });
    expect(readFileSync(path.join(dir, 'out'), 'utf8')).toBe('answered\n');
    // Gone when spawnTree returns: seen gone, not only signalled.
    expect([...left(run).keys()].filter((k) => MUST_STOP.includes(k))).toEqual([]);
  });

  it('captured output (a validator) is returned at its exit, though what it left held the pipe open', async () => {
    const { run, argv } = await escaper(['exec', 'sh', '-c', 'echo "S0001: wrong"; exit 1']);
    const r = await within(spawnTree(options(argv, {})), 20_000, 'the validator');
    expect(r).toMatchObject({ kind: 'exited', code: 1, stdout: 'S0001: wrong\n' });
    expect([...left(run).keys()].filter((k) => MUST_STOP.includes(k))).toEqual([]);
  });

  it('a timeout kills it all, and nothing is reported left', async () => {
    const { run, dir, argv } = await escaper(['hang']);
    const r = await within(spawnTree(options(argv, { timeoutMs: 2000 })), 20_000, 'the timed-out process');
    // The routes were all taken before the timeout (else this test would prove nothing).
    expect(existsSync(path.join(dir, 'ready'))).toBe(true);
    expect(r).toEqual({ kind: 'timeout' });
    expect([...left(run).keys()].filter((k) => MUST_STOP.includes(k))).toEqual([]);
  });

  it('a cancel (the first Ctrl-C) kills it all', async () => {
    const { run, dir, argv } = await escaper(['hang']);
    const abort = new AbortController();
    const r = spawnTree(options(argv, { signal: abort.signal }));
    await whenExists(path.join(dir, 'ready'));
    abort.abort();
    expect(await within(r, 20_000, 'the cancelled process')).toEqual({ kind: 'cancelled' });
    expect([...left(run).keys()].filter((k) => MUST_STOP.includes(k))).toEqual([]);
  });

  it('runs in a cgroup of its own where cgroup v2 is mounted read-write and cf runs as root (this machine, CI)', async ({ skip }) => {
    if (!ROOT_WITH_CGROUPS) skip('not root, or no read-write cgroup v2 here');
    expect(inCgroup).toBe(true);
  });

  it('death by a signal is reported as such, with what it printed', async () => {
    const r = await spawnTree(options(['sh', '-c', 'echo out; echo err >&2; kill -USR1 $$'], {}));
    expect(r).toMatchObject({ kind: 'signalled', signal: 'SIGUSR1', stderr: 'err\n' });
    expect(r).toMatchObject({ stdout: 'out\n' });
  });
});

describe.concurrent('containment: the spawner (the helper starting the processes of large builds)', () => {
  it('starts a process in its cgroup, and when cf goes (kill -9: its channel closes) kills all it left', async ({ skip }) => {
    if (!ROOT_WITH_CGROUPS && !inCgroup) skip('no cgroup can be made here');
    const { run, dir, argv } = await escaper(['hang']);
    const cgroup = newCgroup(`spawner-test-${run}`)!;
    const child = fork(path.join(REPO, 'dist', 'bundle', 'spawner.js'), [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    try {
      const spawned = new Promise<{ pid: number; contained: boolean }>((resolve) => child.on('message', (m: { t: string; pid: number; contained: boolean }) => m.t === 'spawned' && resolve(m)));
      child.once('message', () =>
        child.send({ t: 'spawn', id: 1, file: argv[0], args: argv.slice(1), cwd: REPO, env: env(), stdio: ['ignore', 'ignore', 'ignore'], maxCapture: 0, cgroup }),
      );
      const { pid, contained } = await spawned;
      expect(contained).toBe(true);
      expect(readFileSync(`/proc/${pid}/cgroup`, 'utf8')).toContain(`${path.basename(path.dirname(cgroup))}/${path.basename(cgroup)}\n`);
      await whenExists(path.join(dir, 'ready'));
      const exited = new Promise((resolve) => child.on('exit', resolve));
      child.disconnect();
      expect(await exited).toBe(0);
      expect(await survivors(run, ROUTES)).toEqual([]);
    } finally {
      if (child.connected) child.disconnect();
      // Empty by now: removed (on code without containment, what is in it is killed first).
      await releaseCgroup(cgroup);
    }
  });
});

/**
 * The real CLI: a build of two batches, -j 2. Batch 1's agent escapes and hangs; batch 2's agent answers
 * (its input items as they are) and its validator escapes and hangs. Then the build ends one way or another.
 */
async function escapingBuild(timeout: string, extraEnv: Record<string, string> = {}, args: string[] = []) {
  const agent = await escaper(['hang']);
  const validator = await escaper(['hang']);
  const pipeline = `seeds: seeds.json
batch_size: 20
runners:
  esc:
    command: ${JSON.stringify(`if [ "$CF_BATCH" = 1 ]; then exec ${agent.argv.map((a) => `'${a}'`).join(' ')}; else exec cp "$CF_INPUT_FILE" "$CF_OUTPUT_FILE"; fi`)}
    timeout: ${timeout}
phases:
  - name: pairs
    from: seeds
    intelligence: prompts/pairs.md
    runner: esc
    output: out/pairs.json
    attempts: 1
    validate: ${JSON.stringify(validator.argv)}
    validate_timeout: ${timeout}
`;
  const p = await Project.create({ pipeline });
  await p.write('seeds.json', seedsJson(40));
  const cf = p.spawn(['build', '-j', '2', ...args], extraEnv);
  const readyFiles = [path.join(agent.dir, 'ready'), path.join(validator.dir, 'ready')];
  const ready = within(Promise.all(readyFiles.map(whenExists)), 20_000, 'the escapes');
  // Unobserved until awaited: a test that does not wait for it (a timeout) checks the files instead.
  ready.catch(() => undefined);
  return { p, cf, ready, readyFiles, agent: agent.run, validator: validator.run };
}

describe.concurrent('containment: cf ending while an agent and a validator have escaped (the CLI)', () => {
  // SIGTERM goes to the same handler (cli/interrupt.ts; interrupt.test.ts): SIGINT, and SIGHUP (its own terminal handling), here.
  for (const signal of ['SIGINT', 'SIGHUP'] as const) {
    it(`${signal} to cf: cf ends (130) and nothing they left is running`, async () => {
      const b = await escapingBuild('60s');
      try {
        await b.ready;
        // The signal alone (execa's kill would follow it with a SIGKILL after 5 s).
        process.kill(b.cf.pid!, signal);
        const r = await within(b.cf, 20_000, 'cf');
        expect(r.exitCode).toBe(130);
        expect(await survivors(b.agent)).toEqual([]);
        expect(await survivors(b.validator)).toEqual([]);
        // Nothing half-done recorded: batch 1's agent and batch 2's validator were still running.
        expect(await b.p.read('.cf/records.log').catch(() => '')).not.toMatch(/pairs#[12]/);
      } finally {
        b.cf.kill('SIGKILL');
        await b.p.remove();
      }
    });
  }

  it('kill -9 of cf: nothing they left is running (cf could do nothing: its watchdog did)', async () => {
    const b = await escapingBuild('60s');
    try {
      await b.ready;
      b.cf.kill('SIGKILL');
      await b.cf;
      expect(await survivors(b.agent)).toEqual([]);
      expect(await survivors(b.validator)).toEqual([]);
    } finally {
      await b.p.remove();
    }
  });

  it('a timeout of each: the batch fails, cf says the tree was killed, and nothing they left is running', async () => {
    const b = await escapingBuild('2s');
    try {
      const r = await within(b.cf, 20_000, 'cf');
      expect(r.exitCode).toBe(1);
      // Both had taken every route before their timeout (else this test would prove nothing).
      expect(b.readyFiles.filter((f) => !existsSync(f))).toEqual([]);
      expect(r.stderr).toContain('the agent timed out after 2.0 s; its process tree was killed');
      expect(r.stderr).toContain('validator timed out after 2 s');
      expect(await survivors(b.agent)).toEqual([]);
      expect(await survivors(b.validator)).toEqual([]);
    } finally {
      b.cf.kill('SIGKILL');
      await b.p.remove();
    }
  });

  it('without cgroups (CF_CGROUPS=0): -v says so once; the mark and the process group still stop what they can find', async () => {
    const b = await escapingBuild('2s', { CF_CGROUPS: '0' }, ['-v']);
    try {
      const r = await within(b.cf, 20_000, 'cf');
      expect(r.exitCode).toBe(1);
      const notes = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.startsWith('cf: note: agents and validators run without a cgroup'));
      expect(notes).toEqual([expect.stringContaining('(CF_CGROUPS=0)')]);
      for (const run of [b.agent, b.validator]) expect(await survivors(run, MARKED)).toEqual([]);
    } finally {
      b.cf.kill('SIGKILL');
      await b.p.remove();
    }
  });
});
