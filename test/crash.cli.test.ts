import { afterEach, describe, expect, it } from 'vitest';
import { childrenOf, isRunning, killLeftovers, Project, readySignal, targetsOf } from './helpers/project.js';
import { Bench } from './helpers/workspace.js';

const projects: Project[] = [];
const cleanups: Array<() => void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) c();
  await Promise.all(projects.splice(0).map((p) => p.remove()));
});

async function project(seeds: number): Promise<Project> {
  const p = await Project.create({ seeds });
  projects.push(p);
  return p;
}

// A torn record and two builds at once (the lock) are tested in process (workspace.build.test.ts,
// lock.test.ts). Here: kill -9 of cf itself.
describe('crashes and concurrency', () => {
  it('after kill -9 mid-build, the next build stops what the dead cf left running, runs only unfinished batches and merges byte-identically', async () => {
    const p = await project(60);
    const ready = await readySignal(p.dir);
    cleanups.push(() => ready.close());
    // The hanging agent stays when cf is gone, as a real one does, and its grandchild has left its process group.
    const env = { FAKE_HANG_IDS: 'S0045', FAKE_HANG_STAYS: '1', FAKE_READY_SOCKET: ready.path, FAKE_ONLY_PHASE: 'pairs', CF_LOCK_STALE_MS: '2000' };
    const cf = p.spawn(['build', '--json', '-j', '2'], env);
    const ran = new Set<string>();
    let hanging = false;
    let left: number[] = [];
    for await (const line of cf.iterable()) {
      const e = JSON.parse(String(line)) as { event: string; target?: string };
      if (e.event === 'ran') ran.add(e.target!);
      if (e.event === 'started' && e.target === 'pairs#3') hanging = true;
      if (hanging && ran.size >= 4) {
        const { agent, grandchild } = await ready.next();
        left = [agent, grandchild];
        cleanups.push(() => killLeftovers(left));
        // cf and its watchdog both die (the OOM killer, a pkill): nothing kills the agent then but the next cf.
        for (const w of childrenOf(cf.pid!).filter((c) => c.args.includes('cf-watchdog'))) process.kill(w.pid, 'SIGKILL');
        cf.kill('SIGKILL');
        break;
      }
    }
    await cf;
    expect([...ran].sort()).toEqual(['legos#1', 'legos#2', 'pairs#1', 'pairs#2']);
    expect(left.filter(isRunning)).toHaveLength(2);
    await p.takeRuns();

    const again = await p.cf(['build'], { CF_LOCK_STALE_MS: '2000' });
    expect(again.code, again.stderr).toBe(0);
    // Killed and waited for before pairs#3's run directory was reused.
    expect(again.stderr).toContain('cf: stopped 2 processes left running by the cf that died holding this directory\'s lock');
    expect(left.filter(isRunning)).toEqual([]);
    expect(targetsOf(await p.takeRuns())).toEqual(['legos#3', 'pairs#3']);

    // A clean build of the same inputs (in memory: the fake agent's answers are the same) writes the same bytes.
    const clean = await Bench.create({ seeds: 60 });
    try {
      expect((await clean.build()).exitCode).toBe(0);
      expect(await p.read('out/pairs.json')).toBe(clean.output('out/pairs.json'));
      expect(await p.read('out/legos.json')).toBe(clean.output('out/legos.json'));
    } finally {
      await clean.remove();
    }
  });
});
