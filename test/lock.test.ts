import { describe, expect, it } from 'vitest';
import { acquireLock, describeLockWait, memoryLock, type HeldLock, type LockOwner } from '../src/store/lock.js';
import { withTempDir } from './helpers/tempDir.js';

/*
 * One cf at a time changes a directory: a second one says whom it waits for, then goes on once the first
 * is done. The directory's lock (a lock file under .cf/), taken twice in this process as two cf would, and
 * the in-memory lock of in-memory workspaces. (Two builds at once through the Workspace: workspace.build.)
 */

type Take = (command: string, onWait: (owner: LockOwner | null) => void, signal?: AbortSignal) => Promise<HeldLock>;

async function secondWaitsForFirst(take: Take): Promise<void> {
  const order: string[] = [];
  const first = await take('build', () => order.push('first waited'));
  let tell!: (owner: LockOwner | null) => void;
  const waits = new Promise<LockOwner | null>((resolve) => (tell = resolve));
  const second = take('clean', (owner) => {
    order.push('second waits');
    tell(owner);
  }).then((held) => {
    order.push('second holds');
    return held;
  });
  // The second is told once it finds the lock held; it holds it only after the first releases it.
  const told = await waits;
  expect(told).toMatchObject({ pid: process.pid, command: 'build' });
  expect(describeLockWait(told)).toBe(`waiting for another cf in this directory (pid ${process.pid}, cf build) to finish…`);
  order.push('first releases');
  await first.release();
  await (await second).release();
  expect(order).toEqual(['second waits', 'first releases', 'second holds']);
}

describe('the lock', () => {
  it("the directory's lock: a second taker is told who holds it, and holds it once it is released", async () => {
    await withTempDir('lock', async (dir) => {
      await secondWaitsForFirst((command, onWait, signal) => acquireLock(dir, command, onWait, signal));
    });
  });

  it('the in-memory lock: the same, and the lock goes to those waiting in the order they came', async () => {
    await secondWaitsForFirst(memoryLock());
    const take = memoryLock();
    const first = await take('build', () => undefined);
    const got: string[] = [];
    const waiting = ['a', 'b', 'c'].map((c) => take(c, () => undefined).then(async (held) => {
      got.push(c);
      await held.release();
    }));
    await first.release();
    await Promise.all(waiting);
    expect(got).toEqual(['a', 'b', 'c']);
  });

  it('a wait stopped by Ctrl-C rejects and leaves the line; the next taker gets the lock', async () => {
    const take = memoryLock();
    const first = await take('build', () => undefined);
    const stop = new AbortController();
    const stopped = take('watch', () => stop.abort(new Error('interrupted')), stop.signal);
    await expect(stopped).rejects.toThrow('interrupted');
    const next = take('clean', () => undefined);
    await first.release();
    await (await next).release();
    // Free again: taken at once, no wait.
    let waited = false;
    await (await take('build', () => (waited = true))).release();
    expect(waited).toBe(false);
  });
});
