import type { StampedEvent } from '../events/types.js';
import { ProgressModel, type Baseline } from './progress.js';

/** Events kept for clients that reconnect (`Last-Event-ID`, `?since=`): the latest builds'. */
const KEEP = 20_000;

/**
 * Where the build events reach the dashboard, whoever sends them (the in-process build's bus, or the
 * follower of .cf/events.log): folded into the progress model, kept for resuming clients, and passed on to
 * every open event stream. After a build ends, what is recorded is read again (`refresh`).
 */
export class Hub {
  readonly model: ProgressModel;
  private readonly kept: StampedEvent[] = [];
  private readonly clients = new Set<(e: StampedEvent) => void>();
  private refreshing: Promise<void> | null = null;
  private again = false;

  constructor(
    baseline: Baseline,
    /** Reads what is recorded again (the baseline), e.g. after a build. */
    private readonly read: () => Promise<Baseline>,
  ) {
    this.model = new ProgressModel(baseline);
  }

  push(e: StampedEvent): void {
    this.model.apply(e);
    this.kept.push(e);
    if (this.kept.length > KEEP) this.kept.splice(0, this.kept.length - KEEP);
    for (const c of this.clients) c(e);
    if (e.event === 'summary' || e.event === 'edit-taken') void this.refresh();
  }

  /** Reads the baseline again (one read at a time; a request meanwhile reads once more after it). */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.again = false;
        try {
          this.model.setBaseline(await this.read());
        } catch {
          // Input that cannot be read now (a pipeline.yaml being edited): the last baseline stays.
        }
      } while (this.again);
      this.refreshing = null;
    })();
    return this.refreshing;
  }

  /**
   * The events after the one a client saw last: `build:seq`, or `seq` of the latest build. Unknown (a
   * build the hub no longer holds): every event it holds, so the client rebuilds its view.
   */
  since(last: string | null): StampedEvent[] {
    if (!last) return [...this.kept];
    const m = /^(?:(.+):)?(\d+)$/.exec(last);
    if (!m) return [...this.kept];
    const build = m[1] ?? this.kept[this.kept.length - 1]?.buildId;
    const seq = Number(m[2]);
    const at = this.kept.findLastIndex((e) => e.buildId === build && e.seq === seq);
    if (at >= 0) return this.kept.slice(at + 1);
    const first = this.kept.findIndex((e) => e.buildId === build && e.seq > seq);
    return first >= 0 ? this.kept.slice(first) : [...this.kept];
  }

  subscribe(fn: (e: StampedEvent) => void): () => void {
    this.clients.add(fn);
    return () => this.clients.delete(fn);
  }
}
