import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** How a child's stdin/stdout/stderr is set up: nothing, a pipe (captured), or a file opened with `flags`. */
export type StdioSpec = 'ignore' | 'pipe' | { path: string; flags: string };

export interface SpawnRequest {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  stdio: [StdioSpec, StdioSpec, StdioSpec];
  maxCapture: number;
  /** The cgroup to start it in (cgroup.ts), if it has one. */
  cgroup?: string;
}

export interface SpawnHandlers {
  /** `contained`: it started in its cgroup. */
  spawned(pid: number, contained: boolean): void;
  exit(code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string): void;
  error(message: string): void;
}

type Reply =
  | { t: 'ready' }
  | { t: 'spawned'; id: number; pid: number; contained: boolean }
  | { t: 'exit'; id: number; code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }
  | { t: 'error'; id: number; message: string };

/**
 * Starts child processes through the spawner process (spawnerChild.ts) once a build has started a few
 * dozen directly, or at once when the build plans many (prestart): a build with a handful of agent runs
 * never pays for the helper's start, a build with thousands moves their fork and exec off cf's main thread. `CF_SPAWNER=0` turns it off. Running from source (tests of the
 * engine in memory), there is no bundled spawner and every process is spawned directly.
 */
const START_AFTER = 32;

function spawnerEntry(): string | null {
  if (process.env.CF_SPAWNER === '0') return null;
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const f of [path.join(here, 'spawner.js'), path.join(here, '..', 'spawner.js')]) if (existsSync(f)) return f;
  return null;
}

class Spawner {
  private child: ChildProcess | null = null;
  private ready = false;
  private broken = false;
  private direct = 0;
  private nextId = 0;
  private readonly pending = new Map<number, SpawnHandlers>();

  /**
   * Starts the spawner now, ahead of the first process (`cf build` and `cf watch` call it before they
   * load their inputs: the helper's start-up overlaps theirs, and no agent of the build forks cf itself).
   */
  prestart(): void {
    if (!this.child && !this.broken) this.launch();
  }

  /** Starts `req` through the spawner and returns true, or returns false: the caller spawns it itself. */
  spawn(req: SpawnRequest, handlers: SpawnHandlers): boolean {
    if (!this.ready || !this.child?.connected) {
      if (++this.direct === START_AFTER && !this.child) this.launch();
      return false;
    }
    const id = ++this.nextId;
    this.pending.set(id, handlers);
    if (this.pending.size === 1) this.ref(true);
    this.child.send({ t: 'spawn', id, ...req });
    return true;
  }

  private launch(): void {
    const entry = this.broken ? null : spawnerEntry();
    if (!entry) return;
    let child: ChildProcess;
    try {
      // The helper makes no TLS connection: extra CA certificates would only slow its start (each child
      // still gets the full environment it is given with each request).
      const env = { ...process.env };
      delete env.NODE_EXTRA_CA_CERTS;
      child = fork(entry, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: [], serialization: 'json', env });
    } catch {
      this.broken = true;
      return;
    }
    this.child = child;
    child.on('message', (m: Reply) => this.onReply(m));
    child.on('error', () => this.fail());
    child.on('exit', () => this.fail());
    // Nothing holds cf open for the helper's sake: only a request out (see ref()).
    child.unref();
    this.ref(false);
  }

  private onReply(m: Reply): void {
    if (m.t === 'ready') {
      this.ready = true;
      if (this.pending.size === 0) this.ref(false);
      return;
    }
    const h = this.pending.get(m.id);
    if (!h) return;
    if (m.t === 'spawned') return h.spawned(m.pid, m.contained);
    this.pending.delete(m.id);
    if (this.pending.size === 0) this.ref(false);
    if (m.t === 'exit') h.exit(m.code, m.signal, m.stdout, m.stderr);
    else h.error(m.message);
  }

  /** The spawner went away: what it was waiting for is reported as failed, and cf spawns directly from now on. */
  private fail(): void {
    if (this.broken) return;
    this.broken = true;
    this.ready = false;
    this.child = null;
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const h of waiting) h.error('the spawner process stopped');
  }

  /** While a request is out, the IPC channel keeps cf alive; idle, it must not hold cf open. */
  private ref(on: boolean): void {
    const channel = this.child?.channel as { ref?: () => void; unref?: () => void } | undefined;
    if (on) channel?.ref?.();
    else channel?.unref?.();
  }
}

export const spawner = new Spawner();
