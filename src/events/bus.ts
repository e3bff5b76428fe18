import { randomBytes } from 'node:crypto';
import type { BuildEvent, StampedEvent } from './types.js';

export type Subscriber = (e: StampedEvent) => void;

/**
 * One stream of a build's events, any number of subscribers (wireit's CombinationLogger): the terminal
 * reporter, the NDJSON writer, a dashboard, a log file. Every event is stamped once, here, with the build
 * it belongs to, its sequence number (a client can resume from the last one it saw) and the engine's time,
 * and every subscriber sees the same events in the same order.
 */
export class EventBus {
  readonly buildId: string;
  private seq = 0;
  private readonly subscribers = new Set<Subscriber>();

  constructor(o: { buildId?: string; now?: () => Date } = {}) {
    this.buildId = o.buildId ?? `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
    if (o.now) this.now = o.now;
  }

  private now: (() => Date) | null = null;
  private lastMs = -1;
  private lastIso = '';

  /** The engine's time as ISO text; formatted once per millisecond (a no-op build stamps thousands of events). */
  private stamp(): string {
    if (this.now) return this.now().toISOString();
    const ms = Date.now();
    if (ms !== this.lastMs) {
      this.lastMs = ms;
      this.lastIso = new Date(ms).toISOString();
    }
    return this.lastIso;
  }

  /** Adds a subscriber; returns what removes it. */
  subscribe(fn: Subscriber): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  emit(e: BuildEvent): void {
    // Stamped in place: an event is a fresh object its emitter hands over (copying thousands of them cost
    // a 20,000-seed build 20 ms). One emitted twice is copied, so an earlier stamp is never rewritten.
    const stamped = ('seq' in e ? { ...e } : e) as StampedEvent;
    stamped.buildId = this.buildId;
    stamped.seq = ++this.seq;
    stamped.ts = this.stamp();
    for (const s of this.subscribers) s(stamped);
  }

  /** `emit` as a function to hand out (the engine, the workspace). */
  get emitter(): (e: BuildEvent) => void {
    return (e) => this.emit(e);
  }
}
