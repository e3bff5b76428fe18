import { fork, spawnSync } from 'node:child_process';
import path from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { CF_BIN, childrenOf, isRunning, killLeftovers, Project, readySignal, REPO, stillRunningAfter } from './helpers/project.js';

// The hanging agent of these tests does what a real one does when cf is gone: it stays, and its
// grandchild has left its process group (FAKE_HANG_STAYS).
let p: Project | undefined;
const cleanups: Array<() => void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) c();
  await p?.remove();
  p = undefined;
});

describe('process lifecycle', () => {
  // SIGINT, SIGTERM and SIGHUP to cf, and kill -9 of cf, with agents and validators that escaped their
  // process group: containment.cli.test.ts. Here: a terminal that really hangs up, and the spawner.
  // script(1) (util-linux) runs cf on a terminal of its own, which closes when script is killed: a real hangup.
  it.skipIf(spawnSync('script', ['-V']).status !== 0)('a terminal that closes under a build: agents killed, nothing recorded, no crash writing to it or exiting', async () => {
    p = await Project.create({ seeds: 20 });
    const ready = await readySignal(p.dir);
    cleanups.push(() => ready.close());
    // cf is the terminal's session leader (exec): the hangup's SIGHUP is its. Its stderr is a file, to read.
    const term = execa('script', ['-qfc', `exec node ${JSON.stringify(CF_BIN)} build pairs 2>cf.stderr`, '/dev/null'], {
      cwd: p.dir,
      reject: false,
      env: { CI: '', FAKE_HANG_IDS: 'S0001', FAKE_HANG_STAYS: '1', FAKE_READY_SOCKET: ready.path },
    });
    const { agent, grandchild } = await ready.next();
    const cf = childrenOf(term.pid!).map((c) => c.pid);
    cleanups.push(() => killLeftovers([...cf, agent, grandchild]));
    expect(cf).toHaveLength(1);
    term.kill('SIGKILL');
    await term;
    expect(await stillRunningAfter([...cf, agent, grandchild])).toEqual([]);
    // Node 20 aborts at exit on a terminal that hung up (a native stack trace), and writes to it fail (EIO).
    expect(await p.read('cf.stderr')).toBe('');
    expect(await p.read('.cf/records.log').catch(() => '')).not.toContain('pairs#1');
  });

  describe('the spawner (the helper that starts the processes of large builds), when cf goes', () => {
    const spawner = path.join(REPO, 'dist', 'bundle', 'spawner.js');
    /** Its exit code and what it wrote on stderr. */
    const ended = async (child: ReturnType<typeof fork>): Promise<{ code: number | null; stderr: string }> => {
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += String(d)));
      const [code] = await Promise.all([
        new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c))),
        new Promise((resolve) => child.stderr!.on('end', resolve)),
      ]);
      return { code, stderr };
    };

    it('before it could say it is ready: it exits quietly (no ERR_IPC_CHANNEL_CLOSED stack trace)', async () => {
      const child = fork(spawner, [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
      // cf gone at once: the channel is closed before the helper has loaded.
      child.disconnect();
      expect(await ended(child)).toEqual({ code: 0, stderr: '' });
    });

    it('while a process it started runs: it kills it, and exits quietly', async () => {
      const child = fork(spawner, [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
      const spawned = new Promise<number>((resolve) => child.on('message', (m: { t: string; pid?: number }) => m.t === 'spawned' && resolve(m.pid!)));
      child.once('message', () =>
        child.send({ t: 'spawn', id: 1, file: 'sleep', args: ['1000'], cwd: REPO, env: {}, stdio: ['ignore', 'ignore', 'ignore'], maxCapture: 0 }),
      );
      const pid = await spawned;
      cleanups.push(() => killLeftovers([pid]));
      child.disconnect();
      expect(await ended(child)).toEqual({ code: 0, stderr: '' });
      expect(isRunning(pid)).toBe(false);
    });
  });
});
