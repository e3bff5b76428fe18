import type { PhaseConfig } from '../config/pipeline.js';
import type { Item } from '../config/seeds.js';
import type { BuildSummary } from '../events/types.js';
import type { BatchOutcome } from '../exec/attempts.js';
import type { BatchExecutor } from '../exec/executor.js';
import type { BatchRecord } from '../store/records.js';
import { Pool } from '../util/pool.js';
import { registry } from '../config/registry.js';
import type { Analysis } from './analyze.js';
import { plan, reads } from './plan.js';
import { ContextSource, type Decider, type Decision } from './decide.js';
import { decodeRefs, refsCount, type ContextValue, type RefsText } from './fingerprint.js';
import { InputChanged } from './inputChanged.js';
import { InputReader, splitTarget } from './inputReader.js';
import { ItemBatches } from './itemBatches.js';
import { slotPriority, type EngineOptions } from './options.js';
import { writeMerge } from './mergeWriter.js';
import { RunningRuns, type RunningRun } from './running.js';
import type { FreshReason } from './staleness.js';
import { Tally, type BatchResult } from './tally.js';
import { batchTarget, type Request, type TargetId } from './targets.js';

export type { BuildSummary } from '../events/types.js';
export { slotPriority, type EngineOptions } from './options.js';

/**
 * The coordinator: decides what is stale, has the executor run it, records what comes back, merges. One
 * memoised promise per target; batch k of a phase waits only for batch k of the phase it reads (and the
 * context batches before it); a failed batch stops only its own chain.
 */
export class Engine {
  private readonly batches = new Map<TargetId, Promise<BatchResult>>();
  private readonly merges = new Map<string, Promise<void>>();
  /** Batches being read, prepared or recorded around their jobs: 2×-j at once (the executor has -j slots). */
  private readonly staging: Pool;
  /** What plan() found, batch by batch: the batches it found fresh are taken as they are. */
  private analysis: Analysis | undefined;
  private readonly tally: Tally;
  private readonly inFlight = new RunningRuns();
  /** Batches built (or found fresh) in this build: where contexts are read from. */
  private readonly done = new Map<TargetId, BatchRecord>();
  private readonly contexts = new ContextSource((phase, j) => this.done.get(batchTarget(phase, j)));
  private readonly inputs: InputReader;
  private readonly items: ItemBatches;
  /** Batches built again because their stored output was missing or damaged when read (see repair()). */
  private readonly repairs = new Map<TargetId, { record: BatchRecord | undefined; result: Promise<BatchResult> }>();

  constructor(private readonly o: EngineOptions) {
    this.staging = new Pool(2 * Math.max(1, o.jobs));
    this.tally = new Tally(o.emit, () => o.decider.graph.batchCount);
    this.inputs = new InputReader({
      decider: o.decider,
      contexts: this.contexts,
      readIntelligence: (phase) => o.intelligence(phase),
      upstream: async (phase, batch) => ((await this.batch(this.d.graph.upstream(phase)!, batch)) as { kind: 'ok'; record: BatchRecord }).record,
      repair: async (record) => {
        const r = await this.repair(record);
        return r.kind === 'ok' ? r.record : null;
      },
      repaired: (record) => this.repairs.get(record.target)?.record === record,
    });
    this.items = new ItemBatches({
      decider: o.decider,
      executor: o.executor,
      inputs: this.inputs,
      signal: o.signal,
      stopping: () => this.stopping,
      emit: o.emit,
      now: () => this.now(),
      runDir: (phase, batch) => o.runDir(phase, batch),
      priority: slotPriority,
      itemKey: (phase, position, id, inputHash) => o.decider.itemKey(phase, position, id, inputHash, this.contexts),
      contextSpec: (phase, ids) => o.decider.contextSpec(phase, ids, this.contexts),
      listen: (x) => this.tally.listen(x),
      register: (run) => this.inFlight.register(run),
    });
  }

  get decider(): Decider {
    return this.o.decider;
  }

  get executor(): BatchExecutor {
    return this.o.executor;
  }

  private get d(): Decider {
    return this.o.decider;
  }

  private now(): string {
    return (this.o.now?.() ?? new Date()).toISOString();
  }

  /** Called after each batch that ran (cf build: a periodic collection in very large builds). */
  onBatchDone: (() => void) | undefined;

  /** Batches to run or that may run (stale, or pending on an upstream rerun), as plan() counted them. */
  planned = 0;

  /** The phases with batches to run or that may run, as plan() found them (their agents may start). */
  readonly phasesToRun = new Set<PhaseConfig>();

  /**
   * cf watch, when inputs change mid-build (`next` decides with the new ones): cancels every running agent
   * run whose batch or items have another key now (its process tree killed, nothing recorded), and any
   * such run that would start later in this build (a retry). The others go on.
   */
  cancelOutdated(next: Decider): void {
    this.inFlight.cancelOutdated(next);
  }

  /** The agent runs going on now. */
  running(): RunningRun[] {
    return this.inFlight.list();
  }

  /** True once the build is cancelled or draining: no new batch starts. */
  private get stopping(): boolean {
    return this.o.signal.aborted || (this.o.drain?.aborted ?? false);
  }

  /** The context batches the batches run counted as read (see reads()). */
  private readonly runReads = new Map<string, number>();

  /** Announces what is fresh and what will run, before anything runs. */
  async plan(requests: Request[]): Promise<void> {
    const p = await plan(this.d, requests, { jobs: this.o.jobs, emit: this.o.emit });
    this.analysis = p.analysis;
    this.planned = p.planned;
    for (const phase of p.phasesToRun) this.phasesToRun.add(phase);
  }

  async run(requests: Request[]): Promise<BuildSummary> {
    const work: Promise<unknown>[] = [];
    for (const r of requests) {
      const phase = this.d.graph.phase(r.phase);
      if (r.merge) work.push(this.merge(phase));
      else for (const b of r.batches) work.push(this.batch(phase, b));
    }
    // Every target's promise exists now: what plan() found is not needed any more (a large build's
    // statuses hold the reasons of thousands of stale batches).
    this.analysis = undefined;
    await Promise.all(work);
    return this.tally.summary;
  }

  batch(phase: PhaseConfig, batch: number): Promise<BatchResult> {
    const t = batchTarget(phase.name, batch);
    let p = this.batches.get(t);
    if (!p) {
      // Found fresh by plan(): what it reads is fresh too, and nothing recorded since can change that.
      const planned = this.analysis?.known(t);
      if (planned?.kind === 'fresh') {
        p = this.asRead(phase, t, this.fresh(phase, batch, t, planned.record, planned.reason));
        this.batches.set(t, p);
        // Counted as plan() counted them: the batches it reads are this build's fresh targets too.
        for (const [q, b] of reads(this.d.graph, phase, batch, this.runReads)) void this.batch(q, b);
      } else {
        p = this.buildBatch(phase, batch, t).then((r) => this.asRead(phase, t, r));
      }
      this.batches.set(t, p);
    }
    return p;
  }

  /** A batch's result as what reads it sees it (downstream batches, merges, contexts): its items' corrections applied. */
  private async asRead(phase: PhaseConfig, target: TargetId, r: BatchResult): Promise<BatchResult> {
    if (r.kind !== 'ok') return r;
    const view = await this.d.view(phase, r.record, { put: true });
    this.done.set(target, view);
    return view === r.record ? r : { kind: 'ok', record: view };
  }

  /** A batch that is up to date (decided now, or by plan()). */
  private fresh(phase: PhaseConfig, batch: number, target: TargetId, found: BatchRecord, reason: FreshReason): BatchResult & { kind: 'ok' } {
    let record = found;
    if (record.target !== target) {
      // Same inputs were built under another batch number (seeds moved): reuse, record it here too.
      record = { ...record, target, at: this.now() };
      this.d.store.recordBatch(record);
    } else if (this.d.store.lastSuccess(target) !== record) {
      // An earlier run found again (an edit reverted): it is the target's output now, so it becomes the
      // newest record (what explanations compare with, and what compaction keeps in the log).
      this.d.store.recordBatch(record);
    }
    return this.tally.fresh(phase, batch, target, reason, record);
  }

  /** What a batch whose upstream or context batch (`of`: its result) did not end built ends as. */
  private notBuilt(phase: PhaseConfig, batch: number, target: TargetId, of: BatchResult, reads: { kind: 'upstream' | 'context'; target: string }): BatchResult {
    if (of.kind === 'cancelled') return this.tally.cancelled(target);
    if (of.kind === 'stopped') return this.tally.stopped(phase, batch, target);
    return this.tally.skipped(phase, batch, target, { ...reads, was: of.kind === 'failed' ? 'failed' : 'skipped' });
  }

  private async buildBatch(phase: PhaseConfig, batch: number, target: TargetId): Promise<BatchResult> {
    const d = this.d;
    const up = d.graph.upstream(phase);
    let items: RefsText;
    if (up) {
      const u = await this.batch(up, batch);
      if (u.kind !== 'ok') return this.notBuilt(phase, batch, target, u, { kind: 'upstream', target: batchTarget(up.name, batch) });
      items = u.record.items;
    } else {
      items = d.seedRefs(batch);
    }

    let context: ContextValue | undefined;
    if (phase.context) {
      const blocked = await this.awaitContext(phase, batch, target);
      if (blocked) return blocked;
      const c = await d.batchContext(phase, batch, this.contexts);
      if (!c || 'missing' in c) throw new Error(`context of ${target} not available after its batches were built`);
      context = c;
    }

    const decision = await d.decide(phase, batch, items, context);
    if (decision.kind === 'fresh') return this.fresh(phase, batch, target, decision.record, decision.reason);
    if (this.stopping) return this.tally.cancelled(target);
    if (phase.items === 'independent') {
      const read = await this.inputs.read(phase, batch, items);
      if ('changed' in read) return this.tally.cancelled(target, read.changed);
      return this.buildItems(phase, batch, target, items, decision);
    }
    // Read once staged, not before: a build of thousands of stale batches would hold them all.
    const staged = <T>(task: () => Promise<T>): Promise<T> => (this.o.unstaged?.(phase) ? task() : this.staging.run(slotPriority(phase, batch), task));
    return staged(async () => {
      if (this.stopping) return this.tally.cancelled(target);
      const read = await this.inputs.read(phase, batch, items);
      if ('changed' in read) return this.tally.cancelled(target, read.changed);
      const own = new AbortController();
      const release = this.inFlight.register({ target, phase, inputs: [{ kind: 'batch', batch, items, ...(context ? { context } : {}), key: decision.key }], abort: () => own.abort() });
      if (!release) return this.tally.cancelled(target);
      try {
        return await this.runJob(phase, batch, target, items, read, decision, AbortSignal.any([this.o.signal, own.signal]));
      } finally {
        release();
      }
    });
  }

  /** An items: batch batch's job: its attempts through the executor, its outcome recorded. */
  private async runJob(
    phase: PhaseConfig,
    batch: number,
    target: TargetId,
    text: RefsText,
    read: { items: Item[]; intelligence: string },
    decision: Extract<Decision, { kind: 'stale' }>,
    signal: AbortSignal,
  ): Promise<BatchResult> {
    const d = this.d;
    const ids = decodeRefs(text).map(([id]) => id);
    const startedAt = Date.now();
    const outcome = await this.o.executor.execute(
      {
        v: 1,
        kind: 'batch',
        target,
        phase: phase.name,
        batch,
        batchCount: d.graph.batchCount,
        priority: slotPriority(phase, batch),
        idField: d.graph.pipeline.idField,
        intelligence: read.intelligence,
        inputItems: read.items,
        inputIds: ids,
        runDir: this.o.runDir(phase, batch),
        key: decision.key,
        ...(phase.context ? { context: d.contextSpec(phase, ids, this.contexts) } : {}),
      },
      { signal, onEvent: this.tally.listen({ target, phase, batch, items: ids.length, why: decision.reasons, runDir: this.o.runDir(phase, batch) }) },
    );
    return this.settle(phase, batch, target, decision, outcome, startedAt);
  }

  /** A batch job's outcome: recorded (a valid output, or the failure and its attempts), counted and told. */
  private async settle(phase: PhaseConfig, batch: number, target: TargetId, decision: Extract<Decision, { kind: 'stale' }>, outcome: BatchOutcome, startedAt: number): Promise<BatchResult> {
    const d = this.d;
    switch (outcome.kind) {
      case 'cancelled':
        return this.tally.cancelled(target);
      case 'stopped':
        // Attempts already paid for are kept (as a failure record), so their cost and errors are not lost.
        if (outcome.attempts > 0) {
          d.store.recordFailure({ t: 'fail', target, key: decision.key, attempts: outcome.attempts, errors: outcome.errors, at: this.now(), usage: outcome.usage, stopped: outcome.stop });
        }
        return this.tally.stopped(phase, batch, target, outcome.stop);
      case 'failed':
        d.store.recordFailure({ t: 'fail', target, key: decision.key, attempts: outcome.attempts, errors: outcome.errors, at: this.now(), ...(outcome.usage.length ? { usage: outcome.usage } : {}) });
        return this.tally.failed(phase, batch, target, outcome.attempts, outcome.errors);
      case 'valid': {
        // Only now, with the output stored and validated, does the batch count as built.
        const record = await d.recordOutput(phase, target, decision, outcome.items, {
          attempts: outcome.attempts,
          ms: Date.now() - startedAt,
          at: this.now(),
          warnings: outcome.warnings,
          usage: outcome.usage,
        });
        this.inputs.remember(record.out, outcome.items);
        this.onBatchDone?.();
        return this.tally.ran(phase, batch, target, record, { items: outcome.items.length, attempts: outcome.attempts, warnings: outcome.warnings.length });
      }
    }
  }

  /**
   * Waits for the context phase's batches 1..k (the context before and within this batch). A record from
   * before the context was configured (or of an older shape) gets its entries from its stored output, once.
   */
  private async awaitContext(phase: PhaseConfig, batch: number, target: TargetId): Promise<BatchResult | null> {
    const source = this.d.graph.phase(phase.context!.phase);
    const kind = registry.contextKind(phase.context!.kind);
    const results = await Promise.all(Array.from({ length: batch }, (_, i) => this.batch(source, i + 1)));
    for (const [i, r] of results.entries()) {
      if (r.kind !== 'ok') return this.notBuilt(phase, batch, target, r, { kind: 'context', target: batchTarget(source.name, i + 1) });
      if (kind.stale(r.record.vocab)) {
        let items;
        try {
          items = await this.inputs.blobItems(r.record, { onRepair: 'compare' });
        } catch (e) {
          if (e instanceof InputChanged) return this.tally.cancelled(target, e.message);
          throw e;
        }
        const indexed: BatchRecord = { ...r.record, vocab: kind.index(items, this.d.graph.pipeline.idField) };
        this.d.store.recordBatch(indexed);
        this.done.set(indexed.target, indexed);
      }
    }
    // Grow the context through this batch (items inside it see the ones before them).
    await this.d.contextAt(phase, this.d.graph.batchRange(batch)[1], this.contexts);
    return null;
  }

  /** items: independent: the batch's stale items through an agent (packed with other batches'), then assembled (itemBatches.ts). */
  private async buildItems(phase: PhaseConfig, batch: number, target: TargetId, text: RefsText, decision: Extract<Decision, { kind: 'stale' }>): Promise<BatchResult> {
    const r = await this.items.build(phase, batch, target, text, decision);
    switch (r.kind) {
      case 'cancelled':
        return this.tally.cancelled(target);
      case 'stopped':
        return this.tally.stopped(phase, batch, target, r.stop);
      case 'failed':
        return this.tally.failed(phase, batch, target, r.attempts, r.errors);
      case 'built': {
        const items = refsCount(r.record.items);
        if (r.attempts) return this.tally.ran(phase, batch, target, r.record, { items, attempts: r.attempts, warnings: r.warnings, regenerated: r.regenerated });
        return this.tally.fresh(phase, batch, target, { kind: 'assembled', items }, r.record);
      }
    }
  }

  /**
   * A batch whose stored output turned out missing or damaged when read (decide() saw the file, which was
   * then found deleted or not matching its hash): the blob is deleted, so that no decision takes the record
   * for fresh again, and the batch is built again in this build, once. Later readers get the new result.
   */
  private repair(record: BatchRecord): Promise<BatchResult> {
    const known = this.repairs.get(record.target);
    if (known) return known.result;
    const [name, batch] = splitTarget(record.target);
    const phase = this.d.graph.phase(name);
    const entry: { record: BatchRecord | undefined; result: Promise<BatchResult> } = { record: undefined, result: Promise.resolve({ kind: 'cancelled' }) };
    entry.result = this.d.store.blobs.remove(record.out).then(async () => {
      // It was counted fresh: it runs now.
      this.tally.unfresh(record.target);
      const r = await this.asRead(phase, record.target, await this.buildBatch(phase, batch, record.target));
      if (r.kind === 'ok') entry.record = r.record;
      return r;
    });
    this.repairs.set(record.target, entry);
    this.batches.set(record.target, entry.result);
    return entry.result;
  }

  merge(phase: PhaseConfig): Promise<void> {
    let p = this.merges.get(phase.name);
    if (!p) {
      p = writeMerge(
        {
          decider: this.d,
          outputs: this.o.outputs,
          inputs: this.inputs,
          batches: (ph) => Promise.all(this.d.graph.batches().map((b) => this.batch(ph, b))),
          emit: this.o.emit,
          summary: this.tally.summary,
          signal: this.o.signal,
          now: () => this.now(),
        },
        phase,
      );
      this.merges.set(phase.name, p);
    }
    return p;
  }
}
