/**
 * At most `size` tasks at once; waiting tasks start in priority order (lower first, then arrival).
 * The build runs every agent through one pool, so -j bounds the agents running at any moment.
 */
export class Pool {
  private running = 0;
  private readonly waiting: Array<{ priority: number; seq: number; start: () => void }> = [];
  private seq = 0;

  constructor(private readonly size: number) {}

  async run<T>(priority: number, task: () => Promise<T>): Promise<T> {
    if (this.running >= this.size) {
      await new Promise<void>((start) => {
        this.waiting.push({ priority, seq: this.seq++, start });
        this.waiting.sort((a, b) => a.priority - b.priority || a.seq - b.seq);
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
