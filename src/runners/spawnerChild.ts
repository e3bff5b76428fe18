/**
 * The spawner: a small helper process that starts cf's child processes on its behalf (see spawner.ts).
 * A fork from a large process costs more than from a small one, and Node's spawn blocks its caller until
 * the child has exec'd: on a build of thousands of agent runs that was the largest cost on cf's main
 * thread. This process holds almost nothing, so its forks are cheap, and it waits for them, not cf.
 *
 * Protocol (IPC messages): in {t:'spawn', id, file, args, cwd, env, stdio: [spec, spec, spec], maxCapture}
 * where spec is 'ignore' | 'pipe' | {path, flags}; out {t:'spawned', id, pid} then
 * {t:'exit', id, code, signal, stdout, stderr}, or {t:'error', id, message}.
 * Children are process-group leaders (detached): cf kills a tree by its group id, directly.
 */
import type { SpawnRequest } from './spawner.js';
import { startProcess } from './startProcess.js';

type SpawnMessage = SpawnRequest & { t: 'spawn'; id: number };

const send = (m: object): void => {
  process.send?.(m);
};

function start(m: SpawnMessage): void {
  startProcess(m, {
    spawned: (pid) => send({ t: 'spawned', id: m.id, pid }),
    exit: (code, signal, stdout, stderr) => send({ t: 'exit', id: m.id, code, signal, stdout, stderr }),
    error: (message) => send({ t: 'error', id: m.id, message }),
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
