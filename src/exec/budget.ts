
/** Why an attempt was not started: what it would cost, against the budget, what was spent and what runs. */
export interface BudgetStop {
  phase: string;
  expectedUsd: number;
  maxUsd: number;
  spentUsd: number;
  runningUsd: number;
}

/**
 * `--max-cost`: no attempt starts unless what was spent, plus what running attempts are expected to cost,
 * plus this attempt's expected cost stays within the budget. An attempt's expected cost comes from its
 * runner (an upper bound from the prompt and max_tokens) or, failing that, from the dearest attempt of
 * the phase seen so far; with neither, one attempt of that phase runs at a time until one is priced.
 */
export class Budget {
  private spent = 0;
  private readonly inFlight = new Map<number, { phase: string; reserved: number }>();
  private readonly dearest = new Map<string, number>();
  private nextId = 0;
  private changed: { promise: Promise<void>; resolve: () => void } | null = null;
  stoppedAny = false;

  constructor(readonly maxUsd: number | null) {}

  get spentUsd(): number {
    return this.spent;
  }

  /** What earlier builds say one attempt of this phase costs (from recorded usage). */
  learn(phase: string, usd: number): void {
    this.dearest.set(phase, Math.max(this.dearest.get(phase) ?? 0, usd));
  }

  /**
   * Reserves room for one attempt: returns a reservation id, or a reason not to start.
   * `estimate` is the runner's own estimate when it has one.
   */
  async reserve(phase: string, estimate: number | null): Promise<{ id: number } | { stop: BudgetStop }> {
    const id = this.nextId++;
    if (this.maxUsd === null) {
      this.inFlight.set(id, { phase, reserved: 0 });
      return { id };
    }
    let expected = estimate ?? this.dearest.get(phase) ?? null;
    // Nothing known about this phase's cost: wait for its running attempt to end and tell.
    while (expected === null && [...this.inFlight.values()].some((r) => r.phase === phase)) {
      this.changed ??= (() => {
        let resolve!: () => void;
        const promise = new Promise<void>((r) => (resolve = r));
        return { promise, resolve };
      })();
      await this.changed.promise;
      expected = estimate ?? this.dearest.get(phase) ?? null;
    }
    const reserved = [...this.inFlight.values()].reduce((n, r) => n + r.reserved, 0);
    if (this.spent + reserved + (expected ?? 0) > this.maxUsd) {
      this.stoppedAny = true;
      return { stop: { phase, expectedUsd: expected ?? 0, maxUsd: this.maxUsd, spentUsd: this.spent, runningUsd: reserved } };
    }
    this.inFlight.set(id, { phase, reserved: expected ?? 0 });
    return { id };
  }

  /** The attempt ended: its real cost replaces its reservation. */
  settle(id: number, usd: number | null): void {
    const r = this.inFlight.get(id);
    this.inFlight.delete(id);
    if (usd !== null) {
      this.spent += usd;
      if (r) this.learn(r.phase, usd);
    }
    const c = this.changed;
    this.changed = null;
    c?.resolve();
  }
}
