/**
 * Per-runner limits shared by every batch of a build: requests at once, requests per minute, tokens per
 * minute. Token use is reserved from an estimate when a request starts and corrected with the real
 * usage when it ends, over a sliding 60-second window. Waiters are served in arrival order.
 * (Libraries such as bottleneck or p-throttle cover concurrency and request rates, but not a token
 * budget corrected after the fact; this is the small piece they lack.)
 */
export interface Limits {
  concurrency?: number;
  requestsPerMinute?: number;
  tokensPerMinute?: number;
}

export interface Ticket {
  /** The request finished: record the tokens it really used and free its place. */
  release(actualTokens?: number): void;
}

interface Entry {
  at: number;
  tokens: number;
}

const WINDOW_MS = 60_000;

export class RateLimiter {
  private active = 0;
  private readonly window: Entry[] = [];
  private readonly waiting: Array<{ tokens: number; wake: () => void }> = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly limits: Limits,
    private readonly now: () => number = Date.now,
  ) {}

  get unlimited(): boolean {
    return !this.limits.concurrency && !this.limits.requestsPerMinute && !this.limits.tokensPerMinute;
  }

  private prune(): void {
    const cutoff = this.now() - WINDOW_MS;
    while (this.window.length && this.window[0]!.at <= cutoff) this.window.shift();
  }

  /** Milliseconds until a request of `tokens` may start (0 = now), or -1 when it waits for a release. */
  private delay(tokens: number): number {
    this.prune();
    const { concurrency, requestsPerMinute: rpm, tokensPerMinute: tpm } = this.limits;
    if (concurrency && this.active >= concurrency) return -1;
    const now = this.now();
    let wait = 0;
    if (rpm && this.window.length >= rpm) wait = Math.max(wait, this.window[this.window.length - rpm]!.at + WINDOW_MS - now);
    if (tpm) {
      let used = this.window.reduce((n, e) => n + e.tokens, 0);
      // A request larger than the whole budget runs alone in an empty window rather than never.
      for (let i = 0; used + tokens > tpm && i < this.window.length; i++) {
        used -= this.window[i]!.tokens;
        wait = Math.max(wait, this.window[i]!.at + WINDOW_MS - now);
      }
    }
    return Math.max(0, wait);
  }

  async acquire(estimatedTokens: number, signal?: AbortSignal): Promise<Ticket> {
    if (this.waiting.length || this.delay(estimatedTokens) !== 0) {
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          const i = this.waiting.indexOf(waiter);
          if (i >= 0) this.waiting.splice(i, 1);
          reject(signal?.reason ?? new Error('aborted'));
          this.pump();
        };
        // The listener goes when the waiter is woken: the signal outlives this request (a batch's, a build's).
        const waiter = {
          tokens: estimatedTokens,
          wake: () => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          },
        };
        this.waiting.push(waiter);
        signal?.addEventListener('abort', onAbort, { once: true });
        this.pump();
      });
    }
    const entry: Entry = { at: this.now(), tokens: estimatedTokens };
    this.window.push(entry);
    this.active++;
    let released = false;
    return {
      release: (actual) => {
        if (released) return;
        released = true;
        if (actual !== undefined) entry.tokens = actual;
        this.active--;
        this.pump();
      },
    };
  }

  /** Starts the first waiter if it may start; otherwise sleeps until it may. */
  private pump(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const first = this.waiting[0];
    if (!first) return;
    const d = this.delay(first.tokens);
    if (d === 0) {
      this.waiting.shift();
      first.wake();
      // The woken request registers itself synchronously after this tick; look again then.
      queueMicrotask(() => this.pump());
    } else if (d > 0) {
      // Not unref'd: a waiting request is pending work; the build must not end (exit 0) under it.
      this.timer = setTimeout(() => this.pump(), d);
    }
  }
}
