import type { BuildSummary } from '../events/types.js';

/**
 * A build's exit code: 130 interrupted; 1 when a target failed, was skipped (its upstream failed), was not
 * started (the budget), or was not built because its input changed while cf ran (`cancelled`: run again);
 * 0 done. cf watch's rebuilds count `cancelled` as done: it builds them again itself, at once.
 */
export function exitCodeOf(s: BuildSummary, interrupted: boolean, o: { rebuildsCancelled?: boolean } = {}): number {
  if (interrupted) return 130;
  return s.failed.length || s.skipped.length || s.stopped.length || (!o.rebuildsCancelled && s.cancelled.length) ? 1 : 0;
}
