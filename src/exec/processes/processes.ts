import path from 'node:path';
import { parseSimpleCommand } from './shellWords.js';
import type { CommandSpec } from '../../config/pipeline.js';
import { killMarked, MARK_VAR, newMark } from './sessionMark.js';
import { spawner, type SpawnHandlers, type SpawnRequest, type StdioSpec } from './spawner.js';
import { startProcess } from './startProcess.js';
import { watchdog } from './watchdog.js';

/**
 * Child processes run in their own process group, so a timeout or Ctrl-C kills the whole tree an agent
 * started (a shell, its node, that node's children), not only the direct child.
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

/** Kills every live process group now (synchronously: used on exit and on Ctrl-C). */
export function killAllChildren(signal: NodeJS.Signals = 'SIGKILL'): void {
  for (const pid of live) killGroup(pid, signal);
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => killAllChildren('SIGKILL'));
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
  | { kind: 'timeout' }
  | { kind: 'cancelled' }
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
  const req: SpawnRequest = { file: argv[0]!, args: argv.slice(1), cwd: o.cwd, env, stdio, maxCapture: o.maxCapture ?? 16 * 1024 * 1024 };

  let pid: number | undefined;
  let direct = false;
  let ended: 'timeout' | 'cancelled' | null = null;
  const stop = (why: 'timeout' | 'cancelled'): void => {
    if (ended) return;
    ended = why;
    if (pid === undefined) return; // killed as soon as its pid is known
    killGroup(pid, 'SIGTERM');
    const p = pid;
    setTimeout(() => killGroup(p, 'SIGKILL'), o.graceMs ?? 3000).unref();
  };
  const started = (p: number): void => {
    pid = p;
    live.add(p);
    // The spawner kills its own children if cf dies; those cf started itself, the watchdog does.
    if (direct) watchdog.watch(p);
    if (ended) {
      killGroup(p, 'SIGTERM');
      setTimeout(() => killGroup(p, 'SIGKILL'), o.graceMs ?? 3000).unref();
    }
  };
  const timer = setTimeout(() => stop('timeout'), o.timeoutMs);
  const onAbort = (): void => stop('cancelled');
  o.signal.addEventListener('abort', onAbort);
  try {
    const r = await new Promise<Outcome>((resolve) => {
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
    if (ended) return { kind: ended };
    if ('error' in r) return { kind: 'spawn-error', message: r.error };
    if (r.signal) return { kind: 'signalled', signal: r.signal, stdout: r.stdout, stderr: r.stderr };
    return { kind: 'exited', code: r.code ?? 1, stdout: r.stdout, stderr: r.stderr };
  } finally {
    clearTimeout(timer);
    o.signal.removeEventListener('abort', onAbort);
    if (pid !== undefined) {
      // Whatever the agent left running in its group goes with it.
      killGroup(pid, 'SIGKILL');
      live.delete(pid);
      if (direct) watchdog.ended(pid);
      // Stopped before its end, it may have left processes outside its group too (setsid, a daemon): found
      // by its mark. Reading /proc costs a few ms: after a timeout or Ctrl-C, not after every run.
      if (ended) killMarked({ token: mark.token });
    }
  }
}
