/**
 * The spawner: a small helper process that starts cf's child processes on its behalf (see spawner.ts).
 * A fork from a large process costs more than from a small one, and Node's spawn blocks its caller until
 * the child has exec'd: on a build of thousands of agent runs that was the largest cost on cf's main
 * thread. This process holds almost nothing, so its forks are cheap, and it waits for them, not cf.
 *
 * Protocol (IPC messages): in {t:'spawn', id, file, args, cwd, env, stdio: [spec, spec, spec], capture}
 * where spec is 'ignore' | 'pipe' | {path, flags}; out {t:'spawned', id, pid} then
 * {t:'exit', id, code, signal, stdout, stderr}, or {t:'error', id, message}.
 * Children are process-group leaders (detached): cf kills a tree by its group id, directly.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';

type Spec = 'ignore' | 'pipe' | { path: string; flags: string };

interface SpawnMessage {
  t: 'spawn';
  id: number;
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  stdio: [Spec, Spec, Spec];
  maxCapture: number;
}

const send = (m: object): void => {
  process.send?.(m);
};

function start(m: SpawnMessage): void {
  const fds: number[] = [];
  let child;
  try {
    const stdio = m.stdio.map((s) => {
      if (typeof s === 'string') return s;
      const fd = openSync(s.path, s.flags);
      fds.push(fd);
      return fd;
    });
    child = spawn(m.file, m.args, { cwd: m.cwd, env: m.env, stdio, detached: true });
  } catch (e) {
    send({ t: 'error', id: m.id, message: (e as Error).message });
    return;
  } finally {
    for (const fd of fds) closeSync(fd);
  }
  const capture = (stream: NodeJS.ReadableStream | null): (() => string) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream?.on('data', (b: Buffer) => {
      if (size < m.maxCapture) chunks.push(b);
      size += b.length;
    });
    return () => Buffer.concat(chunks).toString('utf8');
  };
  const out = capture(child.stdout);
  const err = capture(child.stderr);
  let reported = false;
  child.once('error', (e) => {
    if (reported) return;
    reported = true;
    send({ t: 'error', id: m.id, message: e.message });
  });
  if (child.pid !== undefined) send({ t: 'spawned', id: m.id, pid: child.pid });
  const piped = m.stdio[1] === 'pipe' || m.stdio[2] === 'pipe';
  child.once(piped ? 'close' : 'exit', (code: number | null, signal: NodeJS.Signals | null) => {
    if (reported) return;
    reported = true;
    send({ t: 'exit', id: m.id, code, signal, stdout: out(), stderr: err() });
  });
}

// Ctrl-C at a terminal reaches cf's whole process group, this process included: cf decides what stops.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => undefined);
process.on('disconnect', () => process.exit(0));
process.on('message', (m: SpawnMessage) => {
  if (m?.t === 'spawn') start(m);
});
send({ t: 'ready' });
