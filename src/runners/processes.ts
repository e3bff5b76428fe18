import type { Options } from 'execa';
import type { CommandSpec } from '../graph/pipeline.js';

/**
 * Child processes run in their own process group, so a timeout or Ctrl-C kills the whole tree an agent
 * started (a shell, its node, that node's children), not only the direct child.
 */
const live = new Set<number>();
let exitHookInstalled = false;

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
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
  /** A file fed to stdin, or text. */
  stdin: { file: string } | { text: string } | null;
  /** Where stdout/stderr go: files, or captured (returned). */
  stdout: { file: string } | 'capture';
  stderr: { file: string } | 'capture';
  timeoutMs: number;
  signal: AbortSignal;
  graceMs?: number;
}

export type SpawnResult =
  | { kind: 'exited'; code: number; stdout: string; stderr: string }
  | { kind: 'signalled'; signal: string; stdout: string; stderr: string }
  | { kind: 'timeout' }
  | { kind: 'cancelled' }
  | { kind: 'spawn-error'; message: string };

export async function spawnTree(o: SpawnOptions): Promise<SpawnResult> {
  const { execa } = await import('execa');
  installExitHook();
  if (o.signal.aborted) return { kind: 'cancelled' };
  const [file, args, shell] = 'argv' in o.command ? [o.command.argv[0]!, o.command.argv.slice(1), false] : [o.command.shell, [], true];
  const stdin =
    o.stdin === null ? ({ stdin: 'ignore' } as const) : 'file' in o.stdin ? { stdin: { file: o.stdin.file } } : { input: o.stdin.text };
  const options: Options = {
    ...stdin,
    cwd: o.cwd,
    env: o.env,
    extendEnv: false,
    shell,
    detached: true,
    reject: false,
    stripFinalNewline: false,
    stdout: o.stdout === 'capture' ? 'pipe' : { file: o.stdout.file },
    stderr: o.stderr === 'capture' ? 'pipe' : { file: o.stderr.file },
    maxBuffer: 16 * 1024 * 1024,
  };
  const child = execa(file, args, options);
  const pid = child.pid;
  let ended: 'timeout' | 'cancelled' | null = null;
  const stop = (why: 'timeout' | 'cancelled'): void => {
    if (ended || pid === undefined) return;
    ended = why;
    killGroup(pid, 'SIGTERM');
    setTimeout(() => killGroup(pid, 'SIGKILL'), o.graceMs ?? 3000).unref();
  };
  const timer = setTimeout(() => stop('timeout'), o.timeoutMs);
  const onAbort = (): void => stop('cancelled');
  o.signal.addEventListener('abort', onAbort);
  if (pid !== undefined) live.add(pid);
  try {
    const r = await child;
    if (ended) return { kind: ended };
    const stdout = typeof r.stdout === 'string' ? r.stdout : '';
    const stderr = typeof r.stderr === 'string' ? r.stderr : '';
    if (pid === undefined || (r.failed && r.exitCode === undefined && !r.signal)) {
      return { kind: 'spawn-error', message: (r as { shortMessage?: string }).shortMessage ?? r.message ?? 'could not start' };
    }
    if (r.signal) return { kind: 'signalled', signal: r.signal, stdout, stderr };
    return { kind: 'exited', code: r.exitCode ?? 1, stdout, stderr };
  } finally {
    clearTimeout(timer);
    o.signal.removeEventListener('abort', onAbort);
    if (pid !== undefined) {
      // Whatever the agent left running in its group goes with it.
      if (live.has(pid)) killGroup(pid, 'SIGKILL');
      live.delete(pid);
    }
  }
}
