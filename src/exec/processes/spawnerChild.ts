/**
 * The spawner: a small helper process that starts cf's child processes on its behalf (see spawner.ts).
 * A fork from a large process costs more than from a small one, and Node's spawn blocks its caller until
 * the child has exec'd: on a build of thousands of agent runs that was the largest cost on cf's main
 * thread. This process holds almost nothing, so its forks are cheap, and it waits for them, not cf.
 *
 * Protocol (IPC messages): in {t:'spawn', id, file, args, cwd, env, stdio: [spec, spec, spec], maxCapture,
 * cgroup?} where spec is 'ignore' | 'pipe' | {path, flags}; out {t:'spawned', id, pid, contained} then
 * {t:'exit', id, code, signal, stdout, stderr}, or {t:'error', id, message}.
 * Children are process-group leaders (detached), each in the cgroup cf made for it when it has one
 * (cgroup.ts): cf kills a tree by its group id and its cgroup, directly.
 *
 * When cf goes (an exit, a crash, kill -9: the IPC channel closes with it), possibly before this process
 * has even loaded, it kills the process groups and cgroups of its children still running and exits once
 * they are dead, quietly: cf's going is no error. (cf's watchdog, watchdog.ts, kills whatever else cf's
 * processes left.)
 */
import { killCgroup } from './cgroup.js';
import type { SpawnRequest } from './spawner.js';
import { startProcess } from './startProcess.js';

type SpawnMessage = SpawnRequest & { t: 'spawn'; id: number };

/** The process groups of this process's children still running, with their cgroups ('' when none). */
const groups = new Map<number, string>();

const ignore = (): void => undefined;
// cf may be gone, or go at any moment: a message that cannot be sent is dropped, not an error.
const send = (m: object): void => {
  if (process.connected) process.send?.(m, undefined, undefined, ignore);
};

function start(m: SpawnMessage): void {
  let pid: number | undefined;
  startProcess(m, {
    spawned: (p, contained) => {
      pid = p;
      groups.set(p, contained && m.cgroup ? m.cgroup : '');
      send({ t: 'spawned', id: m.id, pid: p, contained });
    },
    exit: (code, signal, stdout, stderr) => {
      if (pid !== undefined) groups.delete(pid);
      send({ t: 'exit', id: m.id, code, signal, stdout, stderr });
      if (leaving && !groups.size) process.exit(0);
    },
    error: (message) => send({ t: 'error', id: m.id, message }),
  });
}

let leaving = false;

/** cf is gone: what this process started is killed, and it exits once they are dead (at most 2 s on). */
function cfGone(): void {
  leaving = true;
  for (const [g, cgroup] of groups) {
    if (cgroup) killCgroup(cgroup);
    try {
      process.kill(-g, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
  if (!groups.size) process.exit(0);
  setTimeout(() => process.exit(0), 2000);
}

// Ctrl-C at a terminal, or the terminal closing, reaches cf's whole process group, this process included:
// cf decides what stops.
process.on('SIGINT', ignore);
process.on('SIGTERM', ignore);
process.on('SIGHUP', ignore);
process.on('disconnect', cfGone);
process.on('message', (m: SpawnMessage) => {
  if (m?.t === 'spawn') start(m);
});
// cf may have gone before this process was ready to hear it.
if (!process.connected) cfGone();
send({ t: 'ready' });
