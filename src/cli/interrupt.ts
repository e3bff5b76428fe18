import { killAllChildren } from '../runners/processes.js';

/**
 * Ctrl-C (SIGINT) or SIGTERM: the first aborts (running agents are stopped, nothing half-done is
 * recorded, the command ends with 130); a second one exits at once, killing every agent's process tree.
 * Returns the signal to pass down, and a function that removes the handlers.
 */
export function onInterrupt(first?: () => void): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  let interrupts = 0;
  const handler = (): void => {
    interrupts++;
    if (interrupts > 1) {
      killAllChildren('SIGKILL');
      process.exit(130);
    }
    first?.();
    controller.abort();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
