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

  private now: () => Date = () => new Date();

  /** Adds a subscriber; returns what removes it. */
  subscribe(fn: Subscriber): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  emit(e: BuildEvent): void {
    const stamped = { ...e, buildId: this.buildId, seq: ++this.seq, ts: this.now().toISOString() } as StampedEvent;
    for (const s of this.subscribers) s(stamped);
  }

  /** `emit` as a function to hand out (the engine, the workspace). */
  get emitter(): (e: BuildEvent) => void {
    return (e) => this.emit(e);
  }
}
