import type { AttemptError, AttemptUsage } from '../rules/attempts.js';
import type { Hash } from '../util/hash.js';
import type { Item } from './seeds.js';
import type { TargetId } from './targets.js';

/** One stale item of an items: independent batch, as it waits for an agent run. */
export interface PackEntry {
  id: string;
  position: number;
  input: Item;
  inputHash: Hash;
  /** The item's own cache key, and its context's hash (for explanations). */
  key: Hash;
  context?: string;
}

export interface Submission {
  target: TargetId;
  batch: number;
  entries: PackEntry[];
}

export type PackOutcome =
  | { kind: 'ok'; items: Map<string, Item>; attempts: number; usage: AttemptUsage[] }
  | { kind: 'failed'; attempts: number; errors: AttemptError[]; usage: AttemptUsage[] }
  | { kind: 'stopped'; reason: string; attempts: number; errors: AttemptError[]; usage: AttemptUsage[] }
  | { kind: 'cancelled' };

/** A share of a pack's outcome for one of the batches in it. */
export type PackShare = PackOutcome & { packed: TargetId[] };

/** How long submissions gather before a pack goes out: the batches that become ready together go together. */
const GATHER_MS = 15;

/**
 * Packs the stale items of several batches into agent runs of up to `size` items: one changed seed in
 * batch 3 and two in batch 7 make one run of three items, not two runs. A batch's items always travel
 * together; each batch learns its own items (or the pack's failure, with the errors about its items).
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
    for (const w of bin) {
      const ids = new Set(w.sub.entries.map((e) => e.id));
      const share = w.sub.entries.length / total;
      const usage = 'usage' in outcome ? outcome.usage.map((u) => scaleUsage(u, share)) : [];
      switch (outcome.kind) {
        case 'ok':
          w.resolve({ kind: 'ok', items: new Map([...outcome.items].filter(([id]) => ids.has(id))), attempts: outcome.attempts, usage, packed });
          break;
        case 'failed':
        case 'stopped':
          // The errors about this batch's items, and those about no item in particular.
          w.resolve({ ...outcome, errors: outcome.errors.filter((e) => !e.item || ids.has(e.item)), usage, packed });
          break;
        case 'cancelled':
          w.resolve({ kind: 'cancelled', packed });
          break;
      }
    }
  }
}

/** A batch's part of a pack's usage: tokens and dollars in proportion to its items. */
function scaleUsage(u: AttemptUsage, share: number): AttemptUsage {
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
