import { count } from '../util/plural.js';
import { ContextSource, isMissing, type Decider } from './decide.js';
import { contextHash, decodeRefs, encodeRefs, type ContextValue, type RefsText } from './fingerprint.js';
import type { OutputStore } from '../store/outputs.js';
import { asWritten } from '../store/outputs.js';
import type { PhaseConfig } from '../config/pipeline.js';
import type { Item } from '../config/seeds.js';
import type { BatchRecord, FailureRecord } from '../store/records.js';
import type { FreshReason, ItemStaleness, StaleReason } from './staleness.js';
import { mergeKey } from './merge.js';
import { batchTarget, type TargetId } from './targets.js';

/** A batch's state as seen without running anything (status, explain, --dry-run). */
export type BatchStatus =
  | { kind: 'fresh'; target: TargetId; record: BatchRecord; reason: FreshReason }
  /**
   * Will run. `failure`: the last attempt with these very inputs failed. `reassemble`: items: independent,
   * every item's output is cached: the batch is assembled from them and validated, with no agent run.
   */
  | { kind: 'stale'; target: TargetId; reasons: StaleReason[]; failure?: FailureRecord; reassemble?: true }
  /** Runs only if its upstream batch (which will run) produces a different output. */
  | { kind: 'pending'; target: TargetId; upstream: string };

export type MergeStatus = { kind: 'fresh'; phase: string; output: string } | { kind: 'stale'; phase: string; output: string; reason: string };

/** What a batch reads, as a build would see it now: its input items and context, or what it waits for. */
export type BatchInputs = { items: RefsText; context?: ContextValue } | { waiting: string };

export class Analysis {
  private readonly memo = new Map<TargetId, Promise<BatchStatus>>();
  private readonly settled = new Map<TargetId, BatchStatus>();
  /** Contexts from what is recorded: the context phase's fresh batches. */
  readonly contexts: ContextSource;

  constructor(private readonly decider: Decider) {
    this.contexts = new ContextSource(async (name, j) => {
      const phase = decider.graph.phase(name);
      const s = await this.batch(phase, j);
      return s.kind === 'fresh' ? this.decider.view(phase, s.record) : undefined;
    });
  }

  /** A fresh batch as what reads it sees it: its items' corrections applied (corrections.ts). */
  view(phase: PhaseConfig, status: Extract<BatchStatus, { kind: 'fresh' }>): Promise<BatchRecord> {
    return this.decider.view(phase, status.record);
  }

  /**
   * A batch's input items as its phase sees them (the seeds, or its fresh upstream batch's output with its
   * corrections, and the context's view of them), as a build would give them to its agent; or the batch it
   * waits for. What hand edits, adoptions and corrections are checked with.
   */
  async inputItems(phase: PhaseConfig, batch: number): Promise<Item[] | { waiting: string } | { missing: string }> {
    const d = this.decider;
    const up = d.graph.upstream(phase);
    if (!up) return (await d.seeds.items()).slice(...d.graph.batchRange(batch));
    const u = await this.batch(up, batch);
    if (u.kind !== 'fresh') return { waiting: u.target };
    const record = await this.view(up, u);
    const stored = record === u.record ? await d.store.blobs.get(record.out) : ((await d.correctedView(up, u.record))?.text ?? null);
    if (stored === null) return { missing: `the stored output of ${u.target} is missing or damaged; cf build builds it again` };
    if (phase.context) await d.batchContext(phase, batch, this.contexts);
    return d.asInput(phase, JSON.parse(stored) as Item[], this.contexts);
  }

  /** A batch's status if it was computed already. */
  known(target: TargetId): BatchStatus | undefined {
    return this.settled.get(target);
  }

  batch(phase: PhaseConfig, batch: number): Promise<BatchStatus> {
    const target = batchTarget(phase.name, batch);
    let status = this.memo.get(target);
    if (!status) {
      status = this.compute(phase, batch, target).then((s) => {
        this.settled.set(target, s);
        return s;
      });
      this.memo.set(target, status);
    }
    return status;
  }

  /**
   * The batch's input items (the seeds', or its fresh upstream batch's output) and context, as the engine
   * computes them: what adopt and hand edits decide with, so that they record what a build finds fresh.
   */
  async inputs(phase: PhaseConfig, batch: number): Promise<BatchInputs> {
    const d = this.decider;
    const up = d.graph.upstream(phase);
    let items: RefsText;
    if (!up) {
      items = d.seedRefs(batch);
    } else {
      const u = await this.batch(up, batch);
      if (u.kind !== 'fresh') return { waiting: batchTarget(up.name, batch) };
      items = (await this.view(up, u)).items;
    }
    const context = phase.context ? await d.batchContext(phase, batch, this.contexts) : undefined;
    if (context && isMissing(context)) return { waiting: context.missing };
    return { items, ...(context ? { context } : {}) };
  }

  private async compute(phase: PhaseConfig, batch: number, target: TargetId): Promise<BatchStatus> {
    const d = this.decider;
    const inputs = await this.inputs(phase, batch);
    if ('waiting' in inputs) return this.waiting(phase, batch, target, inputs.waiting);
    const { items, context } = inputs;
    const decision = await d.decide(phase, batch, items, context);
    if (decision.kind === 'fresh') return { kind: 'fresh', target, record: decision.record, reason: decision.reason };
    const itemReasons = phase.items === 'independent' ? await this.staleItems(phase, batch, items) : [];
    const reasons = decision.failure
      ? [{ kind: 'failed', attempts: decision.failure.attempts, at: decision.failure.at } as const, ...itemReasons, ...decision.reasons]
      : [...itemReasons, ...decision.reasons];
    const reassemble = !decision.failure && itemReasons.some((r) => r.kind === 'stale-items' && r.stale.length === 0);
    return { kind: 'stale', target, reasons, ...(decision.failure ? { failure: decision.failure } : {}), ...(reassemble ? { reassemble: true as const } : {}) };
  }

  /** A batch whose upstream (or context) batch will run first. */
  private waiting(phase: PhaseConfig, batch: number, target: TargetId, upstream: string): BatchStatus {
    const own = this.decider.reasonsBesidesUpstream(phase, batch);
    if (own.length === 0) return { kind: 'pending', target, upstream };
    return { kind: 'stale', target, reasons: [...own, { kind: 'after-upstream', upstream }] };
  }

  /** For items: independent: which items of a stale batch have no cached output, and why. */
  private async staleItems(phase: PhaseConfig, batch: number, text: RefsText): Promise<StaleReason[]> {
    const items = decodeRefs(text);
    const d = this.decider;
    const [start] = d.graph.batchRange(batch);
    const contexts: Array<ContextValue | { missing: string } | undefined> = [];
    for (const i of items.keys()) contexts.push(await d.contextAt(phase, start + i, this.contexts));
    // Looked up together: a shared cache (sharedStore.ts) answers them at once, not one after another.
    const whys = await Promise.all(
      items.map(async ([id, h], i): Promise<ItemStaleness | null> => {
        const context = contexts[i];
        if (context && 'missing' in context) return 'context';
        const hit = await d.findItem(phase, { id, inputHash: h, key: d.keyFor(phase, encodeRefs([[id, h]]), context), ...(context ? { context } : {}) });
        if (hit && (await d.store.blobs.has(hit.out))) return null;
        const last = d.store.lastItem(phase.name, id);
        return !last ? 'new' : last.input !== h ? 'input' : (last.context ?? null) !== (context ? contextHash(context) : null) ? 'context' : 'settings';
      }),
    );
    const stale = items.flatMap(([id], i) => (whys[i] ? [{ id, why: whys[i] }] : []));
    return [{ kind: 'stale-items', of: items.length, stale }];
  }

  /** Every batch of a phase, in order. */
  phase(phase: PhaseConfig): Promise<BatchStatus[]> {
    return Promise.all(this.decider.graph.batches().map((b) => this.batch(phase, b)));
  }

  async merge(phase: PhaseConfig, outputs: OutputStore): Promise<MergeStatus> {
    const base = { phase: phase.name, output: phase.output };
    const statuses = await this.phase(phase);
    const notFresh = statuses.filter((s) => s.kind !== 'fresh');
    const stamp = await outputs.stamp(phase.output);
    if (notFresh.length) {
      const first = notFresh.slice(0, 3).map((s) => s.target).join(', ');
      const more = notFresh.length > 3 ? ` and ${notFresh.length - 3} more` : '';
      const missing = stamp ? '' : 'not built yet; ';
      return { kind: 'stale', ...base, reason: `${missing}${notFresh.length} of ${count(statuses.length, 'batch', 'batches')} to build first (${first}${more})` };
    }
    const records = await Promise.all(statuses.map((s) => this.view(phase, s as Extract<BatchStatus, { kind: 'fresh' }>)));
    const rec = this.decider.store.merge(phase.name);
    if (!stamp) return { kind: 'stale', ...base, reason: `${phase.output} does not exist` };
    if (!rec || rec.key !== mergeKey(phase, this.decider.graph.pipeline.course, records)) return { kind: 'stale', ...base, reason: 'batch outputs changed since it was written' };
    if (!(await asWritten(outputs, phase.output, rec.file)).ours) return { kind: 'stale', ...base, reason: `${phase.output} was modified on disk` };
    return { kind: 'fresh', ...base };
  }
}
