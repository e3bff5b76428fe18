import { hostname } from 'node:os';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { statePaths } from './state.js';

/**
 * The holder refreshes the lock every STALE_MS/2; a lock not refreshed for STALE_MS (its holder died) is
 * taken over. CF_LOCK_STALE_MS overrides it (at least 2000).
 */
const STALE_MS = Math.max(2000, Number(process.env.CF_LOCK_STALE_MS) || 5000);

export interface LockOwner {
  pid: number;
  host: string;
  command: string;
  since: string;
  /** Set when the holder ran on this host and its process no longer exists: the lock is taken over once stale. */
  gone?: boolean;
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The line a waiting cf prints (build, clean, adopt and watch alike). */
export function describeLockWait(owner: Pick<LockOwner, 'pid' | 'command' | 'gone'> | null): string {
  const who = owner ? ` (pid ${owner.pid}, cf ${owner.command})` : '';
  return owner?.gone
    ? `the cf that held this directory's lock${who} is gone; taking the lock over within ${Math.ceil(STALE_MS / 1000)} s…`
    : `waiting for another cf in this directory${who} to finish…`;
}

export interface HeldLock {
  release(): Promise<void>;
}

/**
 * One cf at a time may change a pipeline's state: a second `cf build` waits for the first (saying so), then
 * finds the work done. Uses proper-lockfile (an atomic mkdir, refreshed while held, stale after STALE_MS).
 */
export async function acquireLock(
  dir: string,
  command: string,
  onWait: (owner: LockOwner | null) => void,
  signal?: AbortSignal,
): Promise<HeldLock> {
  const lockfile = (await import('proper-lockfile')).default;
  const p = statePaths(dir);
  await mkdir(p.root, { recursive: true });
  const ownerFile = `${p.lock}.owner`;
  let waited = false;
  let delay = 50;
  for (;;) {
    try {
      const release = await lockfile.lock(p.root, {
        lockfilePath: p.lock,
        realpath: false,
        stale: STALE_MS,
        retries: 0,
        onCompromised: (e) => process.stderr.write(`cf: warning: the state lock was lost (${e.message}); another cf may run now\n`),
      });
      const owner: LockOwner = { pid: process.pid, host: hostname(), command, since: new Date().toISOString() };
      await writeFile(ownerFile, JSON.stringify(owner));
      return {
        release: async () => {
          await release().catch(() => undefined);
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ELOCKED') throw e;
      if (!waited) {
        waited = true;
        const owner = await readFile(ownerFile, 'utf8')
          .then((t) => JSON.parse(t) as LockOwner)
          .then((o) => (o.host === hostname() && !processExists(o.pid) ? { ...o, gone: true } : o))
          .catch(() => null);
        onWait(owner);
      }
      await sleep(delay, undefined, { signal });
      delay = Math.min(delay * 2, 500);
    }
  }
}
