import type { BuildEvent } from '../events/types.js';
import { formatDuration } from '../util/duration.js';

/*
 * The time left for each phase that runs, for the live line: from the durations of its batches finished
 * in this build, the batches still to run (the plan's, less those done, failed, skipped or found fresh)
 * and -j. A phase none of whose batches has finished yet has no estimate.
 */

interface PhaseProgress {
  /** Planned batches not finished (running ones included). */
  left: Set<string>;
  /** Running batches: when each started. */
  running: Map<string, number>;
  /** Durations of the finished batches (ms). */
  done: number[];
}

export class PhaseEta {
  private readonly phases = new Map<string, PhaseProgress>();
  private jobs = 1;

  private of(phase: string): PhaseProgress {
    let p = this.phases.get(phase);
    if (!p) this.phases.set(phase, (p = { left: new Set(), running: new Map(), done: [] }));
    return p;
  }

  event(e: BuildEvent, now: number): void {
    switch (e.event) {
      case 'planned':
        this.phases.clear();
        this.jobs = Math.max(1, e.jobs);
        for (const t of e.toRun ?? []) this.of(t.slice(0, t.lastIndexOf('#'))).left.add(t);
        break;
      case 'started':
        this.of(e.phase).running.set(e.target, now);
        break;
      case 'ran':
        this.of(e.phase).done.push(e.ms);
        this.finish(e.phase, e.target);
        break;
      case 'failed':
        this.finish(e.phase, e.target);
        break;
      case 'fresh':
      case 'skipped':
      case 'cancelled':
        if ('target' in e && e.target.includes('#')) this.finish(e.target.slice(0, e.target.lastIndexOf('#')), e.target);
        break;
      default:
        break;
    }
  }

  private finish(phase: string, target: string): void {
    const p = this.of(phase);
    p.left.delete(target);
    p.running.delete(target);
  }

  /**
   * Ms left for the phases with batches running and at least one done: what the running ones have left of
   * the mean duration, then the batches not started, -j at a time.
   */
  estimates(now: number): Map<string, number> {
    const out = new Map<string, number>();
    for (const [phase, p] of this.phases) {
      if (!p.running.size || !p.done.length) continue;
      const mean = p.done.reduce((a, b) => a + b, 0) / p.done.length;
      const running = Math.max(0, ...[...p.running.values()].map((since) => mean - (now - since)));
      const waiting = Math.max(0, p.left.size - p.running.size);
      out.set(phase, running + Math.ceil(waiting / this.jobs) * mean);
    }
    return out;
  }
}

/** "about 20 s left", "about 2m05s left": whole seconds (an estimate has no tenths). */
export function formatLeft(ms: number): string {
  const s = Math.max(1, Math.round(ms / 1000));
  return `about ${s < 60 ? `${s} s` : formatDuration(s * 1000)} left`;
}
