import { fork } from 'node:child_process';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isRunning, killLeftovers, REPO } from './helpers/project.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

describe('process lifecycle', () => {
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
