/**
 * At most `size` tasks at once; waiting tasks start in priority order (lower first, then arrival).
 * The build runs every agent through one pool, so -j bounds the agents running at any moment.
 */
export class Pool {
  private running = 0;
  private readonly waiting: Array<{ priority: number; start: () => void }> = [];

  constructor(private readonly size: number) {}

  async run<T>(priority: number, task: () => Promise<T>): Promise<T> {
    if (this.running >= this.size) {
      await new Promise<void>((start) => {
        // Insert in order (after every task of the same or a lower priority): thousands may wait.
        const w = this.waiting;
        let lo = 0;
        let hi = w.length;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (w[mid]!.priority <= priority) lo = mid + 1;
          else hi = mid;
        }
        w.splice(lo, 0, { priority, start });
      });
    } else {
      this.running++;
    }
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next.start();
      else this.running--;
    }
  }
}
