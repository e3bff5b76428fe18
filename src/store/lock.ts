import { storeLayout } from './layout.js';
import { processExists } from '../util/pid.js';
import { hostname } from 'node:os';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { stopDeadSession } from '../exec/processes/cgroup.js';
import { killMarkedAndWait, sessionId } from '../exec/processes/sessionMark.js';

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
  /** The holder's session id: the mark its agents and validators carry (sessionMark.ts). */
  session?: string;
  /** Set when the holder ran on this host and its process no longer exists: the lock is taken over once stale. */
  gone?: boolean;
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

function readOwner(ownerFile: string): Promise<LockOwner | null> {
  return readFile(ownerFile, 'utf8')
    .then((t) => JSON.parse(t) as LockOwner)
    .catch(() => null);
}

/**
 * A holder that released the lock removed its owner file: one still there is that of a holder that died,
 * its agents maybe still running if its watchdog could not kill them (it was killed too: the OOM killer,
 * a pkill). They would write into the run directories this cf is about to reuse: they are killed first,
 * by the mark they carry, and waited for.
 */
async function stopLeftovers(previous: LockOwner | null, told: (l: Leftovers) => void): Promise<void> {
  if (!previous?.session || previous.host !== hostname() || processExists(previous.pid)) return;
  // Its cgroups first (all its processes, however they detached: cgroup.ts), then what carries its mark.
  const contained = await stopDeadSession(previous.session);
  const marked = await killMarkedAndWait({ session: previous.session });
  const killed = contained.killed + marked.killed;
  const left = [...new Set([...contained.left, ...marked.left])];
  if (killed || left.length) told({ pid: previous.pid, command: previous.command, killed, left });
}

/** What a dead holder left running: how many were stopped, which would not die. */
export interface Leftovers {
  pid: number;
  command: string;
  killed: number;
  left: number[];
}

/** How a cf without an event stream says what it stopped (clean, adopt): on stderr. */
function printLeftovers(l: Leftovers): void {
  const who = `the cf that died holding this directory's lock (pid ${l.pid}, cf ${l.command})`;
  if (l.killed) process.stderr.write(`cf: stopped ${l.killed} process${l.killed === 1 ? '' : 'es'} left running by ${who}\n`);
  if (l.left.length) process.stderr.write(`cf: warning: processes left running by ${who} do not die: pid ${l.left.join(', ')}\n`);
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
  onLeftovers: (l: Leftovers) => void = printLeftovers,
): Promise<HeldLock> {
  const lockfile = (await import('proper-lockfile')).default;
  const p = storeLayout(dir);
  await mkdir(p.root, { recursive: true });
  const ownerFile = p.lockOwner;
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
      await stopLeftovers(await readOwner(ownerFile), onLeftovers);
      const owner: LockOwner = { pid: process.pid, host: hostname(), command, since: new Date().toISOString(), session: sessionId() };
      await writeFile(ownerFile, JSON.stringify(owner));
      return {
        release: async () => {
          // Removed first: an owner file without its lock would be taken for a dead holder's.
          await rm(ownerFile, { force: true });
          await release().catch(() => undefined);
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ELOCKED') throw e;
      if (!waited) {
        waited = true;
        const o = await readOwner(ownerFile);
        onWait(o && o.host === hostname() && !processExists(o.pid) ? { ...o, gone: true } : o);
      }
      await sleep(delay, undefined, { signal });
      delay = Math.min(delay * 2, 500);
    }
  }
}

/**
 * One cf at a time, in memory: the lock of a workspace that has no directory of its own to lock (tests, an
 * in-memory workspace). A second taker is told who holds it, once, and waits in line; an abort while it
 * waits rejects, as acquireLock's does.
 */
export function memoryLock(): (command: string, onWait: (owner: LockOwner | null) => void, signal?: AbortSignal) => Promise<HeldLock> {
  let holder: LockOwner | null = null;
  /** Who waits, in order; a release hands the lock to the first (no one can take it in between). */
  const queue: Array<{ owner: LockOwner; take(): void }> = [];
  const held = (): HeldLock => {
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        const next = queue.shift();
        holder = next?.owner ?? null;
        next?.take();
      },
    };
  };
  return async (command, onWait, signal) => {
    const owner: LockOwner = { pid: process.pid, host: hostname(), command, since: new Date().toISOString() };
    if (!holder) {
      holder = owner;
      return held();
    }
    onWait(holder);
    if (signal?.aborted) throw signal.reason;
    await new Promise<void>((resolve, reject) => {
      const entry = {
        owner,
        take: (): void => {
          signal?.removeEventListener('abort', abort);
          resolve();
        },
      };
      const abort = (): void => {
        queue.splice(queue.indexOf(entry), 1);
        reject(signal!.reason);
      };
      queue.push(entry);
      signal?.addEventListener('abort', abort, { once: true });
    });
    return held();
  };
}
