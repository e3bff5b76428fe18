import type { AttemptError } from '../exec/attempts.js';
import type { BudgetStop } from '../exec/budget.js';
import type { ValidationError } from '../exec/validate.js';
import type { Usage } from '../exec/runners/usage.js';
import type { ItemKey } from './decide.js';
import type { Item } from '../config/seeds.js';
import type { TargetId } from './targets.js';

/** One stale item of an items: independent batch, as it waits for an agent run (its key: see ItemKey). */
export interface PackEntry extends ItemKey {
  position: number;
  input: Item;
}

export interface Submission {
  target: TargetId;
  batch: number;
  /** Which of the batch's attempts this run is (1: its first agent run). */
  attempt: number;
  /** A later round of a batch already under way (a draining build still lets it run). */
  retry: boolean;
  entries: PackEntry[];
  /** Per item: the errors its previous output got, shown in the prompt. */
  previous: ReadonlyMap<string, ValidationError[]>;
}

/** An error of a run, before it is counted as one batch's attempt. */
export type RunError = ValidationError & { source: AttemptError['source'] };

export type PackOutcome =
  /**
   * The agent ran: the items that came back well formed, and the errors of each one that did not (every
   * item's, when the run itself failed). `fatal`: no retry can help (the agent cannot be started).
   */
  | { kind: 'ran'; items: Record<string, Item>; failed: Record<string, RunError[]>; fatal: boolean; usage: Usage | null }
  /** Not started (the budget); nothing was spent. */
  | { kind: 'stopped'; stop: BudgetStop }
  | { kind: 'cancelled' };

/** A batch's share of a pack's outcome: only its items, and its part of the usage. */
export type PackShare = PackOutcome & { packed: TargetId[] };

/** How long submissions gather before a pack goes out: the batches that become ready together go together. */
const GATHER_MS = 15;

/**
 * Packs the stale items of several batches into agent runs of up to `size` items: one changed seed in
 * batch 3 and two in batch 7 make one run of three items, not two runs. A batch's items always travel
 * together; each batch learns the outcome of its own items only (what one item does wrong is no other
 * batch's failure).
 */
export class Packer {
  private pending: Array<{ sub: Submission; resolve: (s: PackShare) => void }> = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly size: number,
    private readonly run: (subs: Submission[]) => Promise<PackOutcome>,
  ) {}

  submit(sub: Submission): Promise<PackShare> {
    return new Promise((resolve) => {
      this.pending.push({ sub, resolve });
      if (this.timer) clearTimeout(this.timer);
      const count = this.pending.reduce((n, p) => n + p.sub.entries.length, 0);
      if (count >= this.size) this.flush();
      else this.timer = setTimeout(() => this.flush(), GATHER_MS);
    });
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    // Batches in seed order, whatever order they became ready in: packs read like the course.
    const waiting = this.pending.sort((a, b) => a.sub.batch - b.sub.batch);
    this.pending = [];
    let bin: typeof waiting = [];
    let n = 0;
    const bins: Array<typeof waiting> = [];
    for (const w of waiting) {
      if (bin.length && n + w.sub.entries.length > this.size) {
        bins.push(bin);
        bin = [];
        n = 0;
      }
      bin.push(w);
      n += w.sub.entries.length;
    }
    if (bin.length) bins.push(bin);
    for (const b of bins) void this.send(b);
  }

  private async send(bin: Array<{ sub: Submission; resolve: (s: PackShare) => void }>): Promise<void> {
    const packed = bin.map((w) => w.sub.target);
    const outcome = await this.run(bin.map((w) => w.sub));
    const total = bin.reduce((n, w) => n + w.sub.entries.length, 0);
    for (const w of bin) w.resolve({ ...shareOf(outcome, w.sub, w.sub.entries.length / total), packed });
  }
}

/** One submission's part of a pack's outcome. */
function shareOf(outcome: PackOutcome, sub: Submission, share: number): PackOutcome {
  if (outcome.kind !== 'ran') return outcome;
  const ids = new Set(sub.entries.map((e) => e.id));
  const mine = <V>(m: Record<string, V>): Record<string, V> => Object.fromEntries(Object.entries(m).filter(([id]) => ids.has(id)));
  return { kind: 'ran', items: mine(outcome.items), failed: mine(outcome.failed), fatal: outcome.fatal, usage: outcome.usage && scaleUsage(outcome.usage, share) };
}

/** A batch's part of a pack's usage: tokens and dollars in proportion to its items. */
function scaleUsage(u: Usage, share: number): Usage {
  if (share === 1) return u;
  return {
    ...u,
    inputTokens: Math.round(u.inputTokens * share),
    cacheWriteTokens: Math.round(u.cacheWriteTokens * share),
    cacheReadTokens: Math.round(u.cacheReadTokens * share),
    outputTokens: Math.round(u.outputTokens * share),
    costUsd: u.costUsd === null ? null : u.costUsd * share,
  };
}
