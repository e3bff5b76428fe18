import { mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sessionId } from './sessionMark.js';

/**
 * Containment: every agent and validator runs in a cgroup (v2) of its own, so that whatever it starts,
 * however it detaches (setsid, a double fork, `setsid -f`, a daemon that closes its descriptors or empties
 * its environment), stays in it, and one write to its cgroup.kill ends them all, atomically: the kernel
 * kills what forks meanwhile too. A process group or the environment mark (sessionMark.ts) can be left;
 * a cgroup cannot, but by a write to a cgroup.procs elsewhere, which only a process set on escaping does.
 *
 * Layout: `<cf's own cgroup>/cf-<session>/<n>`, n counting this cf's processes (the mark's counter). The
 * session's directory is what cf's watchdog kills when cf dies, even by kill -9 (watchdog.ts). A cf run
 * by an agent of another cf puts its own below its agent's: the outer cf's kill reaches it too.
 *
 * Spawning into a cgroup: Node cannot clone into one (CLONE_INTO_CGROUP), so the spawning process (cf, or
 * its spawner) moves itself into the new cgroup, spawns (synchronous: the child exists when it returns),
 * and moves back: two small writes, where a wrapper process would cost an exec. No JavaScript runs between.
 *
 * Where there is no writable cgroup v2 hierarchy (not Linux, not root and no delegated cgroup, a
 * container's read-only /sys/fs/cgroup) or `CF_CGROUPS=0`, nothing here is used: process groups and the
 * mark are what cf has then (processes.ts), and `why()` says why, once, for cf's verbose output.
 * A PID namespace (unshare --pid) was measured too: each process would become its namespace's init (no
 * default signal actions, orphans to reap) or need a wrapper that loses how the agent died, and it cost
 * several ms per process against a fraction of one here.
 */
type State = { dir: string } | { off: string };

let state: State | null = null;
/** The cgroup this process is in (for moving back after a spawn): read once per process. */
let ownHome: string | null | undefined;
/** A cgroup this process could not move back out of: never killed (it would kill cf itself). */
const stuck = new Set<string>();

/** Unescapes a /proc/self/mountinfo path (spaces and such are octal escapes: `\040`). */
const unescapeMount = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** This process's cgroup directory in the v2 hierarchy, or why there is none. */
function currentCgroup(): string | { off: string } {
  if (process.platform !== 'linux') return { off: `there are no cgroups on ${process.platform}` };
  let rel: string | undefined;
  let mounts: string;
  try {
    rel = readFileSync('/proc/self/cgroup', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('0::'))
      ?.slice(3);
    mounts = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return { off: 'there is no /proc' };
  }
  if (rel === undefined) return { off: 'there is no cgroup v2 hierarchy' };
  // "36 25 0:30 / /sys/fs/cgroup rw,relatime shared:9 - cgroup2 cgroup2 rw": root, mount point, type.
  for (const line of mounts.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!right?.startsWith('cgroup2 ')) continue;
    const f = left!.split(' ');
    const root = unescapeMount(f[3] ?? '');
    const mountPoint = unescapeMount(f[4] ?? '');
    const inside = root === '/' ? rel : rel === root || rel.startsWith(`${root}/`) ? rel.slice(root.length) : null;
    if (inside !== null) return path.join(mountPoint, inside).replace(/(.)\/+$/, '$1');
  }
  return { off: 'the cgroup v2 hierarchy is not mounted' };
}

function decide(): State {
  if (process.env.CF_CGROUPS === '0') return { off: 'CF_CGROUPS=0' };
  const home = currentCgroup();
  if (typeof home !== 'string') return home;
  const dir = path.join(home, `cf-${sessionId()}`);
  try {
    mkdirSync(dir);
  } catch (e) {
    return { off: `cannot create a cgroup in ${home} (${(e as NodeJS.ErrnoException).code ?? String(e)})` };
  }
  ownHome = home;
  return { dir };
}

/** The session's cgroup directory (made on first use), or null when cf runs its processes without. */
export function sessionCgroup(): string | null {
  state ??= decide();
  return 'dir' in state ? state.dir : null;
}

/** The session's cgroup directory if it was made (for the exit hook: without making one). */
export function madeSessionCgroup(): string | null {
  return state && 'dir' in state ? state.dir : null;
}

/** Why processes run without a cgroup of their own, or null (they have one, or none has started). */
export function why(): string | null {
  return state && 'off' in state ? state.off : null;
}

/** A new, empty cgroup for one process (`name`: unique in this cf), or null: it runs without. */
export function newCgroup(name: string): string | null {
  const session = sessionCgroup();
  if (!session) return null;
  const dir = path.join(session, name);
  try {
    mkdirSync(dir);
    return dir;
  } catch {
    return null; // cgroup.max.descendants reached, say: this process goes without
  }
}

function moveTo(dir: string): boolean {
  try {
    writeFileSync(path.join(dir, 'cgroup.procs'), String(process.pid));
    return true;
  } catch {
    return false;
  }
}

/**
 * Calls `start` (which spawns one child, synchronously) with this process in the cgroup `dir`, so that the
 * child starts there; `contained` is false when this process could not move there (the child started
 * where this process is). Used by cf and by its spawner, each moving itself.
 */
export function spawnInCgroup<T>(dir: string, start: () => T): { value: T; contained: boolean } {
  if (ownHome === undefined) {
    const home = currentCgroup();
    ownHome = typeof home === 'string' ? home : null;
  }
  if (!ownHome || stuck.size || !moveTo(dir)) return { value: start(), contained: false };
  try {
    return { value: start(), contained: true };
  } finally {
    if (!moveTo(ownHome) && !moveTo(ownHome)) stuck.add(dir);
  }
}

/** The cgroups below `dir` (a cf started by an agent makes its own there). */
function children(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => path.join(dir, e.name));
  } catch {
    return [];
  }
}

/** The processes in `dir` and below. */
export function cgroupProcesses(dir: string): number[] {
  let own: number[] = [];
  try {
    own = readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    // Removed meanwhile.
  }
  return [...own, ...children(dir).flatMap(cgroupProcesses)];
}

/**
 * SIGKILLs every process in the cgroup `dir` and below, synchronously (for an exit hook too). cgroup.kill
 * (Linux 5.14) kills what forks meanwhile as well; before it, what is listed is killed until none is (what
 * a process forks stays in its cgroup, so this ends).
 */
export function killCgroup(dir: string): void {
  if (stuck.has(dir)) return;
  if ([...stuck].some((s) => s.startsWith(`${dir}/`))) {
    for (const c of children(dir)) killCgroup(c);
    return;
  }
  try {
    writeFileSync(path.join(dir, 'cgroup.kill'), '1');
    return;
  } catch {
    // Removed already (nothing is listed then), or a kernel without cgroup.kill.
  }
  for (let i = 0; i < 50; i++) {
    const pids = cgroupProcesses(dir);
    if (!pids.length) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
  }
}

/** Removes `dir` and the cgroups below it; false while a process is still in one of them. */
function remove(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch (e) {
    // EBUSY: a process, or a cgroup, is still in it. Anything else waiting would not mend.
    if ((e as NodeJS.ErrnoException).code !== 'EBUSY') return true;
  }
  // A cgroup with cgroups below it: those first.
  if (!children(dir).every(remove)) return false;
  try {
    rmdirSync(dir);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'EBUSY';
  }
}

/**
 * At a process's exit: its cgroup removed if nothing is left in it (the usual case: one rmdir), else what
 * is left killed (releaseCgroup then waits for it and removes the cgroup). Synchronous.
 */
export function endCgroup(dir: string): void {
  if (!remove(dir)) killCgroup(dir);
}

/**
 * At cf's exit: the session's cgroups are removed if they are empty already (processes just killed may
 * still be dying: the watchdog removes them then).
 */
export function removeSessionCgroup(): void {
  const dir = madeSessionCgroup();
  if (dir) remove(dir);
}

/**
 * A dead cf's session (its lock taken over): the processes in its cgroups, where this cf can see them (in
 * its own cgroup, as when both ran from the same terminal or service), killed, waited for, and its cgroups
 * removed. Returns how many were killed and those that would not die.
 */
export async function stopDeadSession(session: string): Promise<{ killed: number; left: number[] }> {
  const home = state && 'dir' in state ? path.dirname(state.dir) : currentCgroup();
  if (typeof home !== 'string' || session === sessionId()) return { killed: 0, left: [] };
  const dir = path.join(home, `cf-${session}`);
  const killed = cgroupProcesses(dir).length;
  if (!killed && remove(dir)) return { killed: 0, left: [] };
  const left = await releaseCgroup(dir, 10_000);
  return { killed, left: left.length ? cgroupProcesses(dir) : [] };
}

/** What a process left: `pid 123 (sleep)`. */
export function describeProcess(pid: number): string {
  let comm = '';
  try {
    comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    // Gone meanwhile.
  }
  return comm ? `pid ${pid} (${comm})` : `pid ${pid}`;
}

/**
 * Ends a process's cgroup: kills what is still in it (the process has exited, timed out or been
 * cancelled: nothing of it may outlive it), waits until the kernel has emptied it, for at most `waitMs`,
 * and removes it. Returns the processes still there after that (none, unless one cannot die: stuck in
 * the kernel), described.
 */
export async function releaseCgroup(dir: string, waitMs = 5000): Promise<string[]> {
  if (remove(dir)) return []; // the usual case: empty already, one rmdir
  killCgroup(dir);
  const until = Date.now() + waitMs;
  for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
    if (remove(dir)) return [];
    if (Date.now() >= until) return cgroupProcesses(dir).map(describeProcess);
    await sleep(delay);
    // Without cgroup.kill, what was forked between two listings is killed now.
    killCgroup(dir);
  }
}
