import { closeSync } from 'node:fs';
import { isatty } from 'node:tty';
import { killAllChildren } from '../exec/processes/processes.js';

/**
 * Ctrl-C (SIGINT), SIGTERM, or SIGHUP (the terminal or the ssh session closed): the first aborts (running
 * agents are stopped, nothing half-done is recorded, the command ends with 130); a second one exits at
 * once, killing every agent's process tree. A hangup ends a build as Ctrl-C does: left to its default, it
 * would kill cf alone and leave its agents running (they are in process groups of their own), spending.
 * All three exit 130, "interrupted": what cf did is the same whatever stopped it.
 * Returns the signal to pass down, and a function that removes the handlers.
 */
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export function onInterrupt(first?: () => void): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  let interrupts = 0;
  let hungUp = false;
  const terminals = [0, 1, 2].filter((fd) => isatty(fd));
  const handler = (signal: NodeJS.Signals): void => {
    if (signal === 'SIGHUP' && !hungUp) {
      hungUp = true;
      process.once('exit', () => closeHungUp(terminals));
    }
    interrupts++;
    if (interrupts > 1) {
      killAllChildren('SIGKILL');
      process.exit(130);
    }
    first?.();
    controller.abort();
  };
  for (const s of SIGNALS) process.on(s, handler);
  return {
    signal: controller.signal,
    dispose: () => {
      for (const s of SIGNALS) process.off(s, handler);
    },
  };
}

/**
 * At exit, Node 20 restores the terminal's settings on stdin, stdout and stderr, and aborts (SIGABRT, a
 * native stack trace) when a terminal that hung up refuses (EIO; fixed in later Node versions). Those
 * descriptors, which can no longer be written anyway, are closed first: Node then leaves them alone.
 */
function closeHungUp(terminals: number[]): void {
  for (const fd of terminals) {
    if (isatty(fd)) continue;
    try {
      closeSync(fd);
    } catch {
      // Closed already.
    }
  }
}
