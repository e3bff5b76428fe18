import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import type { SpawnHandlers, SpawnRequest } from './spawner.js';

/**
 * Starts one child process as its own process-group leader, with its stdio set up as asked (files opened
 * here, pipes captured up to maxCapture bytes), and reports to `h`: spawned (its pid), then exit (code or
 * signal, captured output) or error. Used in cf itself and in the spawner process (spawnerChild.ts).
 */
export function startProcess(req: SpawnRequest, h: SpawnHandlers): void {
  const fds: number[] = [];
  let child;
  try {
    const stdio = req.stdio.map((s) => {
      if (typeof s === 'string') return s;
      const fd = openSync(s.path, s.flags);
      fds.push(fd);
      return fd;
    });
    child = spawn(req.file, req.args, { cwd: req.cwd, env: req.env, stdio, detached: true });
  } catch (e) {
    h.error((e as Error).message);
    return;
  } finally {
    // The child has its own copies of the descriptors now.
    for (const f of fds) closeSync(f);
  }
  const capture = (stream: NodeJS.ReadableStream | null): (() => string) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream?.on('data', (b: Buffer) => {
      if (size < req.maxCapture) chunks.push(b);
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
    h.error(e.message);
  });
  if (child.pid !== undefined) h.spawned(child.pid);
  // 'close' waits for captured streams to end; with files, 'exit' is enough.
  const piped = req.stdio[1] === 'pipe' || req.stdio[2] === 'pipe';
  child.once(piped ? 'close' : 'exit', (code: number | null, signal: NodeJS.Signals | null) => {
    if (reported) return;
    reported = true;
    h.exit(code, signal, out(), err());
  });
}
