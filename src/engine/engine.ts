import type { PhaseConfig } from '../config/pipeline.js';
import type { Item } from '../config/seeds.js';
import { emptySummary, type BuildEvent, type BuildSummary } from '../events/types.js';
import type { AttemptError, BatchOutcome } from '../exec/attempts.js';
import type { BatchExecutor, JobEvent } from '../exec/executor.js';
import { addUsage, emptyTotals } from '../exec/runners/usage.js';
import type { OutputStore } from '../store/outputs.js';
import type { BatchRecord } from '../store/records.js';
import { Pool } from '../util/pool.js';
import { registry } from '../config/registry.js';
import { Analysis } from './analyze.js';
import { ContextSource, type Decider, type Decision } from './decide.js';
import { decodeRefs, refsCount, type ContextValue, type RefsText } from './fingerprint.js';
import { InputChanged } from './inputChanged.js';
import { InputReader, splitTarget } from './inputReader.js';
import { ItemBatches } from './itemBatches.js';
import { writeMerge } from './mergeWriter.js';
import { isOutdated, type RunningRun } from './running.js';
import { formatFreshReason, formatStaleReason, type FreshReason } from './staleness.js';
import { batchTarget, type Request, type TargetId } from './targets.js';

export type { BuildSummary } from '../events/types.js';

export interface EngineOptions {
  decider: Decider;
  /** Runs the jobs: agents, validators, retries (exec/): on this machine, or elsewhere. */
  executor: BatchExecutor;
  outputs: OutputStore;
  /** The phase's intelligence text (checked against the hash its keys were computed with). */
  intelligence(phase: PhaseConfig): Promise<string>;
  /** Where a batch's attempts keep their files; null for in-memory runs. */
  runDir(phase: PhaseConfig, batch: number): string | null;
  /** -j: how many batches are prepared ahead of the executor's slots (twice as many). */
  jobs: number;
  /** Phases whose jobs are gathered and sent together (a Message Batch): started all at once, not staged. */
  unstaged?(phase: PhaseConfig): boolean;
  emit(e: BuildEvent): void;
  /** Cancels everything: running agents are killed, nothing half-done is recorded. */
  signal: AbortSignal;
  /**
   * Stops starting new batches (cf watch, when inputs change mid-build): batches not yet started end as
   * cancelled and run in the next build; running ones go on unless cancelled one by one (`cancel`).
   */
  drain?: AbortSignal;
  now?: () => Date;
}

/** Slots go to lower batch numbers first, then earlier phases: a batch's chain finishes before the next starts. */
export function slotPriority(phase: PhaseConfig, batch: number): number {
  return batch * 1000 + phase.index;
}

type BatchResult =
  | { kind: 'ok'; record: BatchRecord }
  | { kind: 'failed' }
  | { kind: 'skipped'; because: string }
  | { kind: 'stopped' }
  | { kind: 'cancelled' };

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
  private readonly summary: BuildSummary = emptySummary();
  private readonly inFlight = new Set<RunningRun>();
  /** cf watch: the inputs after a change mid-build; runs of older inputs are cancelled, even ones starting later. */
  private outdatedBy: Decider | undefined;
  /** Batches built (or found fresh) in this build: where contexts are read from. */
  private readonly done = new Map<TargetId, BatchRecord>();
  private readonly contexts = new ContextSource((phase, j) => this.done.get(batchTarget(phase, j)));
  private readonly inputs: InputReader;
  private readonly items: ItemBatches;
  /** Batches built again because their stored output was missing or damaged when read (see repair()). */
  private readonly repairs = new Map<TargetId, { record: BatchRecord | undefined; result: Promise<BatchResult> }>();

  constructor(private readonly o: EngineOptions) {
    this.staging = new Pool(2 * Math.max(1, o.jobs));
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
      listen: (x) => this.listen(x),
      register: (run) => this.register(run),
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

  /** Registers a running agent run; null when cf watch already saw its inputs change (it does not start). */
  private register(run: RunningRun): (() => void) | null {
    if (this.outdatedBy && isOutdated(run, this.outdatedBy)) return null;
    this.inFlight.add(run);
    return () => this.inFlight.delete(run);
  }

  /**
   * cf watch, when inputs change mid-build (`next` decides with the new ones): cancels every running agent
   * run whose batch or items have another key now (its process tree killed, nothing recorded), and any
   * such run that would start later in this build (a retry). The others go on.
   */
  cancelOutdated(next: Decider): void {
    this.outdatedBy = next;
    for (const r of this.inFlight) if (isOutdated(r, next)) r.abort();
  }

  /** The agent runs going on now. */
  running(): RunningRun[] {
    return [...this.inFlight.values()];
  }

  /** True once the build is cancelled or draining: no new batch starts. */
  private get stopping(): boolean {
    return this.o.signal.aborted || (this.o.drain?.aborted ?? false);
  }

  /**
   * The batches a batch reads: its upstream batch, and the context phase's batches up to its own, but for
   * those already given (`given`: per context phase, how many; a vocabulary is read from its first batch on).
   */
  private *reads(phase: PhaseConfig, batch: number, given: Map<string, number>): Generator<[PhaseConfig, number]> {
    const up = this.d.graph.upstream(phase);
    if (up) yield [up, batch];
    if (phase.context) {
      const source = this.d.graph.phase(phase.context.phase);
      const from = given.get(source.name) ?? 0;
      if (from < batch) given.set(source.name, batch);
      for (let j = from + 1; j <= batch; j++) if (source !== up || j !== batch) yield [source, j];
    }
  }

  /** reads()'s context batches already visited, by plan() and by the batches run. */
  private readonly planReads = new Map<string, number>();
  private readonly runReads = new Map<string, number>();

  /** Announces what is fresh and what will run, before anything runs. */
  async plan(requests: Request[]): Promise<void> {
    const analysis = new Analysis(this.d);
    this.analysis = analysis;
    const seen = new Set<TargetId>();
    const counts = { fresh: 0, stale: 0, pending: 0, failedBefore: 0 };
    const visit = async (phase: PhaseConfig, batch: number): Promise<void> => {
      const t = batchTarget(phase.name, batch);
      if (seen.has(t)) return;
      seen.add(t);
      for (const [p, b] of this.reads(phase, batch, this.planReads)) await visit(p, b);
      const s = await analysis.batch(phase, batch);
      counts[s.kind]++;
      if (s.kind !== 'fresh') this.phasesToRun.add(phase);
      if (s.kind === 'stale' && s.failure) counts.failedBefore++;
    };
    for (const r of requests) for (const b of r.batches) await visit(this.d.graph.phase(r.phase), b);
    this.planned = counts.stale + counts.pending;
    this.o.emit({ event: 'planned', seeds: this.d.graph.seedCount, batches: seen.size, jobs: this.o.jobs, ...counts });
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
    return this.summary;
  }

  batch(phase: PhaseConfig, batch: number): Promise<BatchResult> {
    const t = batchTarget(phase.name, batch);
    let p = this.batches.get(t);
    if (!p) {
      // Found fresh by plan(): what it reads is fresh too, and nothing recorded since can change that.
      const planned = this.analysis?.known(t);
      if (planned?.kind === 'fresh') {
        const r = this.fresh(phase, batch, t, planned.record, planned.reason);
        this.done.set(t, r.record);
        p = Promise.resolve(r);
        this.batches.set(t, p);
        // Counted as plan() counted them: the batches it reads are this build's fresh targets too.
        for (const [q, b] of this.reads(phase, batch, this.runReads)) void this.batch(q, b);
      } else {
        p = this.buildBatch(phase, batch, t).then((r) => {
          if (r.kind === 'ok') this.done.set(t, r.record);
          return r;
        });
      }
      this.batches.set(t, p);
    }
    return p;
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
    this.summary.fresh.push(target);
    this.o.emit({ event: 'fresh', target, phase: phase.name, batch, reason: formatFreshReason(reason) });
    return { kind: 'ok', record };
  }

  /** What a batch whose upstream or context batch did not end built ends as. */
  private notBuilt(phase: PhaseConfig, batch: number, target: TargetId, of: BatchResult, why: string): BatchResult {
    if (of.kind === 'cancelled') return this.cancelled(target);
    if (of.kind === 'stopped') {
      this.summary.stopped.push(target);
      return { kind: 'stopped' };
    }
    const because = `${why} ${of.kind === 'failed' ? 'failed' : 'was skipped'}`;
    this.summary.skipped.push(target);
    this.o.emit({ event: 'skipped', target, phase: phase.name, batch, because });
    return { kind: 'skipped', because };
  }

  private async buildBatch(phase: PhaseConfig, batch: number, target: TargetId): Promise<BatchResult> {
    const d = this.d;
    const up = d.graph.upstream(phase);
    let items: RefsText;
    if (up) {
      const u = await this.batch(up, batch);
      if (u.kind !== 'ok') return this.notBuilt(phase, batch, target, u, `upstream ${batchTarget(up.name, batch)}`);
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
    if (this.stopping) return this.cancelled(target);
    if (phase.items === 'independent') {
      const read = await this.inputs.read(phase, batch, items);
      if ('changed' in read) return this.inputChanged(target, read.changed);
      return this.buildItems(phase, batch, target, items, decision);
    }
    // Read once staged, not before: a build of thousands of stale batches would hold them all.
    const staged = <T>(task: () => Promise<T>): Promise<T> => (this.o.unstaged?.(phase) ? task() : this.staging.run(slotPriority(phase, batch), task));
    return staged(async () => {
      if (this.stopping) return this.cancelled(target);
      const read = await this.inputs.read(phase, batch, items);
      if ('changed' in read) return this.inputChanged(target, read.changed);
      const own = new AbortController();
      const release = this.register({ target, phase, inputs: [{ kind: 'batch', batch, items, ...(context ? { context } : {}), key: decision.key }], abort: () => own.abort() });
      if (!release) return this.cancelled(target);
      try {
        return await this.runJob(phase, batch, target, items, read, decision, AbortSignal.any([this.o.signal, own.signal]));
      } finally {
        release();
      }
    });
  }

  /**
   * Turns a job's events into the build's: `started` when its first agent gets a slot (its files were
   * prepared before, outside the slot), its attempts and processes, its usage counted per phase.
   */
  private listen(x: { target: string; phase: PhaseConfig; batch: number; items: number; reasons: string[]; packed?: string[] }): (e: JobEvent) => void {
    const batchCount = this.d.graph.batchCount;
    let started = false;
    const totals = (this.summary.usage[x.phase.name] ??= emptyTotals());
    return (e) => {
      switch (e.kind) {
        case 'attempt':
          if (!started) {
            started = true;
            this.o.emit({ event: 'started', target: x.target, phase: x.phase.name, batch: x.batch, batchCount, items: x.items, reasons: x.reasons, ...(x.packed ? { packed: x.packed } : {}) });
          }
          this.o.emit({ event: 'attempt', target: x.target, attempt: e.attempt, of: e.of });
          break;
        case 'process':
          this.o.emit({ event: 'process', target: x.target, what: e.what, state: e.state });
          break;
        case 'retried':
          this.o.emit({ event: 'retried', target: x.target, phase: x.phase.name, batch: x.batch, batchCount, attempt: e.attempt, of: e.of, errors: e.errors });
          break;
        case 'attempt-done':
          // Every attempt counts, priced or not (a local agent reports no usage).
          if (e.usage) addUsage(totals, e.usage, e.attempt > 1);
          else totals.attempts++;
          break;
      }
    };
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
        ...(phase.context ? { context: d.contextSpec(phase, ids, this.contexts) } : {}),
      },
      { signal, onEvent: this.listen({ target, phase, batch, items: ids.length, reasons: decision.reasons.map(formatStaleReason) }) },
    );
    return this.settle(phase, batch, target, decision, outcome, startedAt);
  }

  /** A batch job's outcome: recorded (a valid output, or the failure and its attempts), counted and told. */
  private async settle(phase: PhaseConfig, batch: number, target: TargetId, decision: Extract<Decision, { kind: 'stale' }>, outcome: BatchOutcome, startedAt: number): Promise<BatchResult> {
    const d = this.d;
    const batchCount = d.graph.batchCount;
    switch (outcome.kind) {
      case 'cancelled':
        return this.cancelled(target);
      case 'stopped':
        // Attempts already paid for are kept (as a failure record), so their cost and errors are not lost.
        if (outcome.attempts > 0) {
          d.store.recordFailure({ t: 'fail', target, key: decision.key, attempts: outcome.attempts, errors: outcome.errors, at: this.now(), usage: outcome.usage, stopped: outcome.reason });
        }
        return this.stopped(phase, batch, target, outcome.reason);
      case 'failed':
        d.store.recordFailure({ t: 'fail', target, key: decision.key, attempts: outcome.attempts, errors: outcome.errors, at: this.now(), ...(outcome.usage.length ? { usage: outcome.usage } : {}) });
        return this.failed(phase, batch, target, outcome.attempts, outcome.errors);
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
        this.summary.ran.push(target);
        this.onBatchDone?.();
        this.o.emit({ event: 'ran', target, phase: phase.name, batch, batchCount, items: outcome.items.length, attempts: outcome.attempts, ms: record.ms, warnings: outcome.warnings.length });
        return { kind: 'ok', record };
      }
    }
  }

  private stopped(phase: PhaseConfig, batch: number, target: TargetId, reason: string): BatchResult {
    this.summary.stopped.push(target);
    this.o.emit({ event: 'stopped', target, phase: phase.name, batch, reason });
    return { kind: 'stopped' };
  }

  private failed(phase: PhaseConfig, batch: number, target: TargetId, attempts: number, errors: AttemptError[]): BatchResult {
    this.summary.failed.push(target);
    this.o.emit({ event: 'failed', target, phase: phase.name, batch, batchCount: this.d.graph.batchCount, attempts, errors });
    return { kind: 'failed' };
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
      if (r.kind !== 'ok') return this.notBuilt(phase, batch, target, r, `context ${batchTarget(source.name, i + 1)}`);
      if (kind.stale(r.record.vocab)) {
        let items;
        try {
          items = await this.inputs.blobItems(r.record, { onRepair: 'compare' });
        } catch (e) {
          if (e instanceof InputChanged) return this.inputChanged(target, e.message);
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
    const batchCount = this.d.graph.batchCount;
    switch (r.kind) {
      case 'cancelled':
        return this.cancelled(target);
      case 'stopped':
        return this.stopped(phase, batch, target, r.reason);
      case 'failed':
        return this.failed(phase, batch, target, r.attempts, r.errors);
      case 'built': {
        const items = refsCount(r.record.items);
        if (r.attempts) {
          this.summary.ran.push(target);
          this.o.emit({ event: 'ran', target, phase: phase.name, batch, batchCount, items, attempts: r.attempts, ms: r.record.ms, warnings: r.warnings, regenerated: r.regenerated });
        } else {
          this.summary.fresh.push(target);
          this.o.emit({ event: 'fresh', target, phase: phase.name, batch, reason: `fresh: ${items === 1 ? 'its item' : `all ${items} items`} cached (assembled, no agent run)` });
        }
        return { kind: 'ok', record: r.record };
      }
    }
  }

  private cancelled(target: TargetId): BatchResult {
    this.summary.cancelled.push(target);
    this.o.emit({ event: 'cancelled', target });
    return { kind: 'cancelled' };
  }

  /**
   * An input changed between computing the batch's key and reading it for the run: not a failure of the
   * batch. It is not built and nothing is recorded; cf watch builds it again with the new input, cf build
   * reports it not built (run it again).
   */
  private inputChanged(target: TargetId, because: string): BatchResult {
    this.summary.cancelled.push(target);
    this.o.emit({ event: 'cancelled', target, because });
    return { kind: 'cancelled' };
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
      const i = this.summary.fresh.indexOf(record.target);
      if (i >= 0) this.summary.fresh.splice(i, 1);
      const r = await this.buildBatch(phase, batch, record.target);
      if (r.kind === 'ok') {
        this.done.set(record.target, r.record);
        entry.record = r.record;
      }
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
          summary: this.summary,
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
