import path from 'node:path';
import { parseSimpleCommand } from './shellWords.js';
import type { CommandSpec } from '../../config/pipeline.js';
import { describeProcess, killCgroup, madeSessionCgroup, newCgroup, releaseCgroup, removeSessionCgroup, why } from './cgroup.js';
import { killMarkedAndWait, MARK_VAR, newMark } from './sessionMark.js';
import { spawner, type SpawnHandlers, type SpawnRequest, type StdioSpec } from './spawner.js';
import { startProcess } from './startProcess.js';
import { watchdog } from './watchdog.js';

/**
 * Child processes run in their own process group and, on Linux where cgroup v2 can be written, in a cgroup
 * of their own (cgroup.ts): a timeout, Ctrl-C or the process's own exit kills everything it started,
 * however it detached (setsid, a double fork, an emptied environment), not only the direct child. After
 * a timeout or cancel, cf says the tree was killed only once it has seen its cgroup empty; what could not
 * be killed is returned (`left`). Without a cgroup, the group and the mark are what cf has.
 *
 * Spawned with node:child_process directly rather than execa: on the agent path every millisecond per
 * process counts (a 20,000-seed course runs 6,000 agent and validator processes), and execa's extra
 * machinery measured 11.4 ms against 5.8 ms per spawn on the reference machine. After the first few, a
 * build's processes are started by the spawner (spawner.ts), a small helper whose forks are cheap and
 * whose waits for exec do not hold cf's main thread; timeouts and Ctrl-C still kill their groups from here.
 *
 * Should cf die without cleaning up (kill -9, a crash), nothing here runs: the watchdog (watchdog.ts),
 * started with cf's first process, then kills them. Every process carries cf's mark (sessionMark.ts),
 * which also finds what left an agent's process group.
 */
const live = new Set<number>();
let exitHookInstalled = false;

function killGroup(pid: number, signal: NodeJS.Signals): void {
  // Usually the group is already gone (ESRCH): without a stack trace the thrown error costs far less.
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** Kills every live process group now (synchronously: used on exit and on Ctrl-C), and with SIGKILL every cgroup. */
export function killAllChildren(signal: NodeJS.Signals = 'SIGKILL'): void {
  const session = madeSessionCgroup();
  if (session && signal === 'SIGKILL') killCgroup(session);
  for (const pid of live) killGroup(pid, signal);
}

let noted: ((text: string) => void) | null = null;

/**
 * `note` is told once, when the first process starts without a cgroup of its own, why (cf's verbose
 * output says so: containment is then by process group and mark only). Not an error: the platform's.
 */
export function noteUncontained(note: (text: string) => void): void {
  noted = note;
}

function tellUncontained(): void {
  const n = noted;
  if (!n) return;
  noted = null;
  n(`cf: note: agents and validators run without a cgroup of their own (${why() ?? 'it could not be entered'}): what they leave running is found by process group and by the ${MARK_VAR} mark only (README.md, "The agent protocol")`);
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    killAllChildren('SIGKILL');
    removeSessionCgroup();
  });
}

export interface SpawnOptions {
  command: CommandSpec;
  cwd: string;
  env: Record<string, string>;
  /** A file fed to stdin, or nothing. */
  stdin: { file: string } | null;
  /** Where stdout/stderr go: files, or captured (returned). */
  stdout: { file: string } | 'capture';
  stderr: { file: string } | 'capture';
  timeoutMs: number;
  signal: AbortSignal;
  graceMs?: number;
  /** Captured output beyond this many bytes is dropped (the start is kept). */
  maxCapture?: number;
}

export type SpawnResult =
  | { kind: 'exited'; code: number; stdout: string; stderr: string }
  | { kind: 'signalled'; signal: string; stdout: string; stderr: string }
  /** `left`: what it started that could not be killed (described: `pid 123 (sleep)`); absent when none. */
  | { kind: 'timeout'; left?: string[] }
  | { kind: 'cancelled'; left?: string[] }
  | { kind: 'spawn-error'; message: string };

type Outcome = { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string } | { error: string };

export async function spawnTree(o: SpawnOptions): Promise<SpawnResult> {
  installExitHook();
  if (o.signal.aborted) return { kind: 'cancelled' };
  // A shell string that needs no shell runs without one (shellWords.ts), its redirections done here.
  const simple = 'shell' in o.command ? parseSimpleCommand(o.command.shell, o.env) : null;
  const at = (f: string): string => path.resolve(o.cwd, f);
  const stdio: [StdioSpec, StdioSpec, StdioSpec] = [
    simple?.stdin ? { path: at(simple.stdin), flags: 'r' } : o.stdin ? { path: o.stdin.file, flags: 'r' } : 'ignore',
    simple?.stdout ? { path: at(simple.stdout.file), flags: simple.stdout.append ? 'a' : 'w' } : o.stdout === 'capture' ? 'pipe' : { path: o.stdout.file, flags: 'w' },
    simple?.stderr ? { path: at(simple.stderr.file), flags: simple.stderr.append ? 'a' : 'w' } : o.stderr === 'capture' ? 'pipe' : { path: o.stderr.file, flags: 'w' },
  ];
  const argv = 'argv' in o.command ? o.command.argv : simple ? simple.argv : ['/bin/sh', '-c', o.command.shell];
  const mark = newMark(o.env[MARK_VAR]);
  const env = { ...o.env, [MARK_VAR]: mark.value };
  // The cgroup is named by the mark's counter: unique in this cf, and the two name the same process.
  const cgroup = newCgroup(mark.token.slice(mark.token.lastIndexOf('.') + 1));
  if (cgroup) watchdog.cgroup(madeSessionCgroup()!);
  const req: SpawnRequest = { file: argv[0]!, args: argv.slice(1), cwd: o.cwd, env, stdio, maxCapture: o.maxCapture ?? 16 * 1024 * 1024, ...(cgroup ? { cgroup } : {}) };

  let pid: number | undefined;
  let direct = false;
  let contained = false;
  let ended: 'timeout' | 'cancelled' | null = null;
  const terminate = (p: number): void => {
    killGroup(p, 'SIGTERM');
    setTimeout(() => {
      killGroup(p, 'SIGKILL');
      if (contained) killCgroup(cgroup!);
    }, o.graceMs ?? 3000).unref();
  };
  const stop = (why: 'timeout' | 'cancelled'): void => {
    if (ended) return;
    ended = why;
    if (pid !== undefined) terminate(pid); // else killed as soon as its pid is known
  };
  const started = (p: number, inCgroup: boolean): void => {
    pid = p;
    contained = inCgroup;
    if (!inCgroup) tellUncontained();
    live.add(p);
    // The spawner kills its own children if cf dies; those cf started itself, the watchdog does.
    if (direct) watchdog.watch(p);
    if (ended) terminate(p);
  };
  const timer = setTimeout(() => stop('timeout'), o.timeoutMs);
  const onAbort = (): void => stop('cancelled');
  o.signal.addEventListener('abort', onAbort);
  let r: Outcome = { error: 'not started' };
  let left: string[] = [];
  try {
    r = await new Promise<Outcome>((resolve) => {
      const handlers: SpawnHandlers = {
        spawned: started,
        exit: (code, signal, stdout, stderr) => resolve({ code, signal, stdout, stderr }),
        error: (message) => resolve({ error: message }),
      };
      if (!spawner.spawn(req, handlers)) {
        direct = true;
        startProcess(req, handlers);
      }
      watchdog.startSoon();
    });
  } finally {
    clearTimeout(timer);
    o.signal.removeEventListener('abort', onAbort);
    if (pid !== undefined) {
      // Whatever the agent left running in its group goes with it.
      killGroup(pid, 'SIGKILL');
      live.delete(pid);
      if (direct) watchdog.ended(pid);
    }
    // And whatever it left anywhere else: its cgroup is killed and seen empty (one rmdir when it is).
    if (cgroup) left = await releaseCgroup(cgroup);
    // Stopped before its end, it may have left processes outside its group and cgroup (without a cgroup: a
    // setsid, a daemon; with one: a process that moved itself out): found by its mark. Reading /proc costs
    // a few ms: after a timeout or Ctrl-C, not after every run.
    if (ended) left = [...new Set([...left, ...(await killMarkedAndWait({ token: mark.token }, 2000)).left.map(describeProcess)])];
  }
  if (ended) return { kind: ended, ...(left.length ? { left } : {}) };
  if ('error' in r) return { kind: 'spawn-error', message: r.error };
  if (r.signal) return { kind: 'signalled', signal: r.signal, stdout: r.stdout, stderr: r.stderr };
  return { kind: 'exited', code: r.code ?? 1, stdout: r.stdout, stderr: r.stderr };
}
