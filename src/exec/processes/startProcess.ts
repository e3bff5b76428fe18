import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { endCgroup, spawnInCgroup } from './cgroup.js';
import { killMarked, MARK_VAR } from './sessionMark.js';
import type { SpawnHandlers, SpawnRequest } from './spawner.js';

/**
 * How long captured output may stay open after the process exited: a descriptor still held then is held
 * by something it left that no kill reached (no cgroup, no mark); cf stops reading rather than wait for it.
 */
const CLOSE_AFTER_EXIT_MS = 1000;

function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // Gone already.
  }
}

/**
 * Starts one child process as its own process-group leader, in its cgroup when it has one (cgroup.ts),
 * with its stdio set up as asked (files opened here, pipes captured up to maxCapture bytes), and reports
 * to `h`: spawned (its pid, and whether it is in its cgroup), then exit (code or signal, captured output)
 * or error. Used in cf itself and in the spawner process (spawnerChild.ts).
 *
 * The process's exit ends what it started: its group and its cgroup are killed then, before its captured
 * output is waited for (a background process it left would otherwise hold the pipe open, and cf would
 * wait for it).
 */
export function startProcess(req: SpawnRequest, h: SpawnHandlers): void {
  const fds: number[] = [];
  let child: ChildProcess;
  let contained = false;
  try {
    const stdio = req.stdio.map((s) => {
      if (typeof s === 'string') return s;
      const fd = openSync(s.path, s.flags);
      fds.push(fd);
      return fd;
    });
    const start = (): ChildProcess => spawn(req.file, req.args, { cwd: req.cwd, env: req.env, stdio, detached: true });
    if (req.cgroup) ({ value: child, contained } = spawnInCgroup(req.cgroup, start));
    else child = start();
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
  const pid = child.pid;
  if (pid !== undefined) h.spawned(pid, contained);
  const report = (code: number | null, signal: NodeJS.Signals | null): void => {
    if (reported) return;
    reported = true;
    h.exit(code, signal, out(), err());
  };
  const piped = req.stdio[1] === 'pipe' || req.stdio[2] === 'pipe';
  child.once('exit', (code: number | null, signal: NodeJS.Signals | null) => {
    if (pid !== undefined) killGroup(pid);
    if (req.cgroup && contained) endCgroup(req.cgroup);
    // With files, the exit is the end; captured streams are read to their end ('close').
    if (!piped) return report(code, signal);
    const stuck = setTimeout(() => {
      // Held open by what no kill above reached: what carries this process's mark, then cf lets go.
      const token = req.env[MARK_VAR]?.split(',').at(-1);
      if (token) killMarked({ token });
      child.stdout?.destroy();
      child.stderr?.destroy();
      report(code, signal);
    }, CLOSE_AFTER_EXIT_MS);
    child.once('close', () => {
      clearTimeout(stuck);
      report(code, signal);
    });
  });
}
