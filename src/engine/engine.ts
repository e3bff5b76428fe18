import path from 'node:path';
import { mark } from '../util/timing.js';
import { runBatch, type Exclusive } from '../exec/attempts.js';
import { mergeBatches, mergeJsonArray, packSpans, unpackSpans, type Spans } from './merge.js';
import type { Validator } from '../exec/validate.js';
import type { AgentResult, AgentRunner } from '../exec/runners/types.js';
import { addUsage, emptyTotals, type UsageTotals } from '../exec/runners/usage.js';
import type { Budget } from './budget.js';
import { hashBytes, hashCanonical, hashString } from '../util/hash.js';
import { LruMap } from '../util/lru.js';
import { Analysis, mergeKey } from './analyze.js';
import { ContextSource, type Decider, type Decision } from './decide.js';
import { itemWords, lacksLegoKeys } from '../domains/ssi/vocabulary.js';
import { InputChanged } from './inputChanged.js';
import { ItemBatches } from './itemBatches.js';
import { isOutdated, type RunningRun } from './running.js';
import type { ValidatorContext } from '../exec/validate.js';
import type { Hash } from '../util/hash.js';
import type { BuildEvent } from '../events/types.js';
import { decodeRefs, refsCount, type ContextValue, type RefsText } from './fingerprint.js';
import { sameStamp, type OutputStore } from '../store/outputs.js';
import type { PhaseConfig } from '../config/pipeline.js';
import { Pool } from './pool.js';
import type { BatchRecord, FileStamp } from '../store/records.js';
import { SeedsChanged, type Item } from '../config/seeds.js';
import { formatFreshReason, formatStaleReason, type FreshReason } from './staleness.js';
import { batchTarget, type Request, type TargetId } from './targets.js';

export interface EngineOptions {
  decider: Decider;
  /** --max-cost; absent: no limit (usage is still recorded). */
  budget?: Budget;
  outputs: OutputStore;
  runnerFor(phase: PhaseConfig): AgentRunner;
  validatorFor(phase: PhaseConfig): Validator | null;
  /** The phase's intelligence text (checked against the hash its keys were computed with). */
  intelligence(phase: PhaseConfig): Promise<string>;
  /** Where a batch's attempts keep their files; null for in-memory runs. */
  runDir(phase: PhaseConfig, batch: number): string | null;
  jobs: number;
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

export interface BuildSummary {
  ran: string[];
  fresh: string[];
  failed: string[];
  skipped: string[];
  merged: string[];
  cancelled: string[];
  /** Not started because of --max-cost. */
  stopped: string[];
  /** What this build's attempts consumed, per phase. */
  usage: Record<string, UsageTotals>;
}

/** Slots go to lower batch numbers first, then earlier phases: a batch's chain finishes before the next starts. */
function slotPriority(phase: PhaseConfig, batch: number): number {
  return batch * 1000 + phase.index;
}

type BatchResult =
  | { kind: 'ok'; record: BatchRecord }
  | { kind: 'failed' }
  | { kind: 'skipped'; because: string }
  | { kind: 'stopped' }
  | { kind: 'cancelled' };

/**
 * Runs what the requests need: one memoised promise per target, agents through a pool of `jobs`.
 * Batch k of a phase waits only for batch k of the phase it reads; a failed batch stops only its own chain.
 */
export class Engine {
  private readonly batches = new Map<TargetId, Promise<BatchResult>>();
  private readonly merges = new Map<string, Promise<void>>();
  private readonly pool: Pool;
  /** Batches being read, prepared or recorded around their processes (see staged()). */
  private readonly staging: Pool;
  /** What plan() found, batch by batch: the batches it found fresh are taken as they are. */
  private analysis: Analysis | undefined;
  /**
   * Batch outputs parsed in this build, the most recently used ones only: a downstream batch usually runs
   * soon after its upstream one; keeping every batch of a 100,000-seed course parsed would hold them all.
   */
  private readonly parsedBlobs = new LruMap<string, Item[]>(256);
  private readonly texts = new Map<string, Promise<string>>();
  private readonly summary: BuildSummary = { ran: [], fresh: [], failed: [], skipped: [], merged: [], cancelled: [], stopped: [], usage: {} };
  private readonly runners = new Map<string, AgentRunner>();
  private readonly inFlight = new Set<RunningRun>();
  /** cf watch: the inputs after a change mid-build; runs of older inputs are cancelled, even ones starting later. */
  private outdatedBy: Decider | undefined;
  /** Batches built (or found fresh) in this build: where contexts are read from. */
  private readonly done = new Map<TargetId, BatchRecord>();
  private readonly contexts = new ContextSource((phase, j) => this.done.get(batchTarget(phase, j)));
  private readonly items: ItemBatches;
  /** Batches built again because their stored output was missing or damaged when read (see repair()). */
  private readonly repairs = new Map<TargetId, { record: BatchRecord | undefined; result: Promise<BatchResult> }>();

  constructor(private readonly o: EngineOptions) {
    this.pool = new Pool(Math.max(1, o.jobs));
    this.staging = new Pool(2 * Math.max(1, o.jobs));
    this.items = new ItemBatches({
      decider: o.decider,
      signal: o.signal,
      stopping: () => this.stopping,
      emit: o.emit,
      now: () => this.now(),
      runner: (phase) => this.runner(phase),
      validator: (phase) => o.validatorFor(phase),
      runDir: (phase, batch) => o.runDir(phase, batch),
      intelligence: (phase) => this.intelligence(phase),
      inputItems: (phase, batch, text) => this.inputItems(phase, batch, text),
      itemContent: (out, id) => this.itemContent(out, id),
      itemKey: (phase, position, id, inputHash) => o.decider.itemKey(phase, position, id, inputHash, this.contexts),
      contextFor: (phase, ids) => this.contextFor(phase, ids),
      slot: (phase, batch, label, what, task) => this.slot(phase, batch, label, what, task),
      register: (run) => this.register(run),
      remember: (out, items) => this.parsedBlobs.set(out, items),
    });
  }

  /**
   * A process of a batch (or of a run of several batches' items, `label`) in the pool (-j), unless the
   * runner pools its requests itself. Every process start and end is an event: what runs now is what holds
   * a slot, never more than -j.
   */
  private slot<T>(phase: PhaseConfig, batch: number, label: string, what: 'agent' | 'validator', task: () => Promise<T>): Promise<T> {
    if (this.runner(phase).pooled === false) return task();
    return this.pool.run(slotPriority(phase, batch), async () => {
      this.o.emit({ event: 'process', target: label, what, state: 'start' });
      try {
        return await task();
      } finally {
        this.o.emit({ event: 'process', target: label, what, state: 'end' });
      }
    });
  }

  /**
   * A whole batch (items: batch) in the build: its inputs read, files prepared and output recorded while
   * holding a place among 2×-j staged batches, its processes (agent, validator) each in a -j slot
   * (`exclusive`). A shell recipe under make holds its slot only while it runs; so does a batch here, so
   * one batch's bookkeeping overlaps the next one's agent. Staging bounds what is read ahead of the slots.
   */
  private staged<T>(phase: PhaseConfig, batch: number, target: TargetId, task: (exclusive: Exclusive | undefined) => Promise<T>): Promise<T> {
    if (this.runner(phase).pooled === false) return task(undefined);
    return this.staging.run(slotPriority(phase, batch), () => task((what, run) => this.slot(phase, batch, target, what, run)));
  }

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

  /** The phase's runner, with the budget in front of every attempt and its usage counted. */
  private runner(phase: PhaseConfig): AgentRunner {
    let r = this.runners.get(phase.name);
    if (r) return r;
    const inner = this.o.runnerFor(phase);
    const budget = this.o.budget;
    const totals = (this.summary.usage[phase.name] ??= emptyTotals());
    r = {
      delivery: inner.delivery,
      ...(inner.pooled !== undefined ? { pooled: inner.pooled } : {}),
      run: async (req) => {
        const reservation = budget ? await budget.reserve(phase.name, inner.estimateCost?.(req) ?? null) : null;
        if (reservation && 'stop' in reservation) return { ok: false, failure: { kind: 'budget', message: reservation.stop } };
        let result: AgentResult | undefined;
        try {
          result = await inner.run(req);
          return result;
        } finally {
          // Every attempt counts, priced or not (a local agent reports no usage); one not started does not.
          const ran = result && !(!result.ok && (result.failure.kind === 'cancelled' || result.failure.kind === 'budget'));
          if (result?.usage) addUsage(totals, result.usage, req.attempt > 1);
          else if (ran) totals.attempts++;
          if (reservation) budget!.settle(reservation.id, result?.usage?.costUsd ?? null);
        }
      },
    };
    this.runners.set(phase.name, r);
    return r;
  }

  get decider(): Decider {
    return this.o.decider;
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
   * The batches a batch reads: its upstream batch, and the context phase's batches up to its own, but for
   * those already given (`given`: per context phase, how many; a vocabulary is read from its first batch on).
   */
  private *reads(phase: PhaseConfig, batch: number, given: Map<string, number>): Generator<[PhaseConfig, number]> {
    const up = this.d.graph.upstream(phase);
    if (up) yield [up, batch];
    if (phase.context) {
      const source = this.d.graph.phase(phase.context.vocabulary);
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
    this.o.emit({
      event: 'planned',
      seeds: this.d.graph.seedCount,
      batches: seen.size,
      jobs: this.o.jobs,
      ...counts,
    });
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

  private async buildBatch(phase: PhaseConfig, batch: number, target: TargetId): Promise<BatchResult> {
    const d = this.d;
    const up = d.graph.upstream(phase);
    let items: RefsText;
    if (up) {
      const u = await this.batch(up, batch);
      if (u.kind === 'cancelled') return this.cancelled(target);
      if (u.kind === 'stopped') {
        this.summary.stopped.push(target);
        return { kind: 'stopped' };
      }
      if (u.kind !== 'ok') {
        const because = `upstream ${batchTarget(up.name, batch)} ${u.kind === 'failed' ? 'failed' : 'was skipped'}`;
        this.summary.skipped.push(target);
        this.o.emit({ event: 'skipped', target, phase: phase.name, batch, because });
        return { kind: 'skipped', because };
      }
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
      const read = await this.readInputs(phase, batch, items);
      if ('changed' in read) return this.inputChanged(target, read.changed);
      return this.buildItems(phase, batch, target, items, decision);
    }
    const reasons = decision.reasons.map(formatStaleReason);
    return this.staged(phase, batch, target, async (exclusive) => {
      if (this.stopping) return this.cancelled(target);
      // Read once staged, not before: a build of thousands of stale batches would hold them all.
      const read = await this.readInputs(phase, batch, items);
      if ('changed' in read) return this.inputChanged(target, read.changed);
      const own = new AbortController();
      const release = this.register({ target, phase, inputs: [{ kind: 'batch', batch, items, ...(context ? { context } : {}), key: decision.key }], abort: () => own.abort() });
      if (!release) return this.cancelled(target);
      try {
        return await this.runStale(phase, batch, target, items, read, decision, reasons, AbortSignal.any([this.o.signal, own.signal]), exclusive);
      } finally {
        release();
      }
    });
  }

  /** True once the build is cancelled or draining: no new batch starts. */
  private get stopping(): boolean {
    return this.o.signal.aborted || (this.o.drain?.aborted ?? false);
  }

  /** The agent runs going on now. */
  running(): RunningRun[] {
    return [...this.inFlight.values()];
  }

  /**
   * What a stale batch's run reads, read now and checked against the hashes its key was computed from
   * (later reads in this build get the same content: seeds, upstream outputs and intelligence are read once).
   */
  private async readInputs(phase: PhaseConfig, batch: number, text: RefsText): Promise<{ items: Item[]; intelligence: string } | { changed: string }> {
    try {
      const items = this.d.graph.upstream(phase) ? await this.inputItems(phase, batch, text) : await this.seedItems(batch, text);
      return { items, intelligence: await this.intelligence(phase) };
    } catch (e) {
      if (e instanceof InputChanged || e instanceof SeedsChanged) return { changed: e.message };
      throw e;
    }
  }

  /** The batch's seeds, as they were when its key was computed (not a save caught half-written). */
  private async seedItems(batch: number, text: RefsText): Promise<Item[]> {
    const [start, end] = this.d.graph.batchRange(batch);
    const items = await this.d.seeds.range(start, end);
    const refs = decodeRefs(text);
    if (items.length !== refs.length || items.some((it, i) => hashCanonical(it) !== refs[i]![1])) {
      throw new InputChanged(`${this.d.seeds.file} changed while cf was running`);
    }
    return items;
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

  private async runStale(
    phase: PhaseConfig,
    batch: number,
    target: TargetId,
    text: RefsText,
    { items: inputItems, intelligence }: { items: Item[]; intelligence: string },
    decision: Extract<Decision, { kind: 'stale' }>,
    reasons: string[],
    signal: AbortSignal,
    exclusive: Exclusive | undefined,
  ): Promise<BatchResult> {
    const d = this.d;
    const items = decodeRefs(text);
    const batchCount = d.graph.batchCount;
    let started = 0;
    const outcome = await runBatch({
      target,
      phase,
      batch,
      batchCount,
      idField: d.graph.pipeline.idField,
      intelligence,
      inputItems,
      inputIds: items.map(([id]) => id),
      runner: this.runner(phase),
      validator: this.o.validatorFor(phase),
      runDir: this.o.runDir(phase, batch),
      signal,
      ...(phase.context ? { context: this.contextFor(phase, items.map(([id]) => id)) } : {}),
      ...(exclusive ? { exclusive } : {}),
      onAttempt: (attempt) => {
        // Started: when its agent has a slot (its files were prepared before, outside the slot).
        if (!started) {
          started = Date.now();
          this.o.emit({ event: 'started', target, phase: phase.name, batch, batchCount, items: items.length, reasons });
        }
        this.o.emit({ event: 'attempt', target, attempt, of: phase.attempts });
      },
      onRetry: (attempt, errors) =>
        this.o.emit({ event: 'retried', target, phase: phase.name, batch, batchCount, attempt, of: phase.attempts, errors }),
    });
    switch (outcome.kind) {
      case 'cancelled':
        return this.cancelled(target);
      case 'stopped':
        // Attempts already paid for are kept (as a failure record), so their cost and errors are not lost.
        if (outcome.attempts > 0) {
          d.store.recordFailure({ t: 'fail', target, key: decision.key, attempts: outcome.attempts, errors: outcome.errors, at: this.now(), usage: outcome.usage, stopped: outcome.reason });
        }
        this.summary.stopped.push(target);
        this.o.emit({ event: 'stopped', target, phase: phase.name, batch, reason: outcome.reason });
        return { kind: 'stopped' };
      case 'failed':
        d.store.recordFailure({ t: 'fail', target, key: decision.key, attempts: outcome.attempts, errors: outcome.errors, at: this.now(), ...(outcome.usage.length ? { usage: outcome.usage } : {}) });
        this.summary.failed.push(target);
        this.o.emit({ event: 'failed', target, phase: phase.name, batch, batchCount, attempts: outcome.attempts, errors: outcome.errors });
        return { kind: 'failed' };
      case 'valid': {
        // Only now, with the output stored and validated, does the batch count as built.
        const record = await d.recordOutput(phase, target, decision, outcome.items, {
          attempts: outcome.attempts,
          ms: Date.now() - started,
          at: this.now(),
          warnings: outcome.warnings,
          usage: outcome.usage,
        });
        this.parsedBlobs.set(record.out, outcome.items);
        this.summary.ran.push(target);
        this.onBatchDone?.();
        this.o.emit({
          event: 'ran',
          target,
          phase: phase.name,
          batch,
          batchCount,
          items: outcome.items.length,
          attempts: outcome.attempts,
          ms: record.ms,
          warnings: outcome.warnings.length,
        });
        return { kind: 'ok', record };
      }
    }
  }

  /**
   * Waits for the context phase's batches 1..k (the vocabulary before and within this batch). A record
   * from before the context was configured gets its vocabulary from its stored output, once.
   */
  private async awaitContext(phase: PhaseConfig, batch: number, target: TargetId): Promise<BatchResult | null> {
    const source = this.d.graph.phase(phase.context!.vocabulary);
    const results = await Promise.all(Array.from({ length: batch }, (_, i) => this.batch(source, i + 1)));
    for (const [i, r] of results.entries()) {
      if (r.kind === 'ok') {
        if (!r.record.vocab || lacksLegoKeys(r.record.vocab)) {
          let items: Item[];
          try {
            items = await this.blobItems(r.record, { onRepair: 'compare' });
          } catch (e) {
            if (e instanceof InputChanged) return this.inputChanged(target, e.message);
            throw e;
          }
          const indexed: BatchRecord = { ...r.record, vocab: itemWords(items, this.d.graph.pipeline.idField) };
          this.d.store.recordBatch(indexed);
          this.done.set(indexed.target, indexed);
        }
        continue;
      }
      if (r.kind === 'cancelled') return this.cancelled(target);
      if (r.kind === 'stopped') {
        this.summary.stopped.push(target);
        return { kind: 'stopped' };
      }
      const because = `context ${batchTarget(source.name, i + 1)} ${r.kind === 'failed' ? 'failed' : 'was skipped'}`;
      this.summary.skipped.push(target);
      this.o.emit({ event: 'skipped', target, phase: phase.name, batch, because });
      return { kind: 'skipped', because };
    }
    // Grow the vocabulary through this batch (items inside it see the ones before them).
    await this.d.contextAt(phase, this.d.graph.batchRange(batch)[1], this.contexts);
    return null;
  }

  /** The context of a run over these items: a prompt section, and the vocabulary before each item. */
  private contextFor(phase: PhaseConfig, ids: string[]): { prompt: string; validator: ValidatorContext } {
    const name = phase.context!.vocabulary;
    const v = this.contexts.vocabulary(name).vocab;
    const pos = ids.map((id) => this.d.positionOf(id));
    const first = Math.min(...pos);
    const last = Math.max(...pos);
    const before = [...v.wordsBefore(first)].sort();
    const between = v.taughtBetween(first, last);
    const seedIds = this.d.seeds.ids;
    let prompt = `## Context: vocabulary (from ${name})\n\nWords taught before ${seedIds[first]} (${before.length}): ${before.join(', ')}\n`;
    if (between.length) {
      prompt += `\nWords taught later, usable from the seed named on (by it and every later item):\n${between.map(([id, ws]) => `- ${id}: ${ws.join(', ')}`).join('\n')}\n`;
    }
    return { prompt, validator: this.d.validatorContext(phase, this.contexts)! };
  }

  /** items: independent: the batch's stale items through an agent (packed with other batches'), then assembled (itemBatches.ts). */
  private async buildItems(
    phase: PhaseConfig,
    batch: number,
    target: TargetId,
    text: RefsText,
    decision: Extract<Decision, { kind: 'stale' }>,
  ): Promise<BatchResult> {
    const r = await this.items.build(phase, batch, target, text, decision);
    const batchCount = this.d.graph.batchCount;
    switch (r.kind) {
      case 'cancelled':
        return this.cancelled(target);
      case 'stopped':
        this.summary.stopped.push(target);
        this.o.emit({ event: 'stopped', target, phase: phase.name, batch, reason: r.reason });
        return { kind: 'stopped' };
      case 'failed':
        this.summary.failed.push(target);
        this.o.emit({ event: 'failed', target, phase: phase.name, batch, batchCount, attempts: r.attempts, errors: r.errors });
        return { kind: 'failed' };
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

  /** An item's cached output, from the blob that holds it. */
  private async itemContent(out: Hash, id: string): Promise<Item | undefined> {
    let items = this.parsedBlobs.get(out);
    if (!items) {
      const text = await this.d.store.blobs.get(out);
      if (text === null) return undefined;
      items = JSON.parse(text) as Item[];
      this.parsedBlobs.set(out, items);
    }
    const idField = this.d.graph.pipeline.idField;
    return items.find((it) => String(it[idField]) === id);
  }

  private cancelled(target: TargetId): BatchResult {
    this.summary.cancelled.push(target);
    this.o.emit({ event: 'cancelled', target });
    return { kind: 'cancelled' };
  }

  /** The batch's input items, checked against the hashes its key was computed from. */
  private async inputItems(phase: PhaseConfig, batch: number, text: RefsText): Promise<Item[]> {
    const up = this.d.graph.upstream(phase);
    if (up) {
      const u = (await this.batch(up, batch)) as { kind: 'ok'; record: BatchRecord };
      const items = await this.blobItems(u.record, { onRepair: 'compare' });
      return this.d.asInput(phase, items, this.contexts);
    }
    const [start, end] = this.d.graph.batchRange(batch);
    const items = await this.d.seeds.range(start, end);
    const refs = decodeRefs(text);
    items.forEach((it, i) => {
      if (hashCanonical(it) !== refs[i]?.[1]) throw new InputChanged(`${this.d.seeds.file} changed while cf was running; run cf build again`);
    });
    return items;
  }

  /**
   * A batch's output items; `keep`: remember them parsed for this build (not for a merge's one pass).
   * A stored output found missing or damaged is built again in this build (see repair()). `onRepair`:
   * what the reader does then. `compare` (a batch reading its input, a context): it goes on with the new
   * output when that holds the same items its key was computed from, else it is not built (InputChanged).
   * `restart` (a merge): the merge starts again from the batches' new records (MergeRestart).
   */
  private async blobItems(record: BatchRecord, o: { keep?: boolean; onRepair?: 'compare' | 'restart' } = {}): Promise<Item[]> {
    const cached = this.parsedBlobs.get(record.out);
    if (cached) return cached;
    const text = await this.d.store.blobs.get(record.out);
    if (text === null) {
      if (this.repairs.get(record.target)?.record === record) {
        throw new InputChanged(`the output of ${record.target}, built again in this build, cannot be read back from .cf/objects`);
      }
      const again = await this.repair(record);
      if (again.kind !== 'ok') {
        throw new InputChanged(`the stored output of ${record.target} was missing or damaged, and building it again ${again.kind === 'failed' ? 'failed' : 'did not finish'}`);
      }
      if (o.onRepair === 'restart') throw new MergeRestart();
      if (again.record.items !== record.items) throw new InputChanged(`${record.target} was built again (its stored output was missing or damaged) and its output changed`);
      return this.blobItems(again.record, o);
    }
    const items = JSON.parse(text) as Item[];
    if (o.keep !== false) this.parsedBlobs.set(record.out, items);
    return items;
  }

  /**
   * A batch whose stored output turned out missing or damaged when read (decide() saw the file, which was
   * then found deleted or not matching its hash): the blob is deleted, so that no decision takes the record
   * for fresh again, and the batch is built again in this build, once. Later readers get the new result.
   */
  private repair(record: BatchRecord): Promise<BatchResult> {
    const known = this.repairs.get(record.target);
    if (known) return known.result;
    const [name, n] = record.target.split('#');
    const phase = this.d.graph.phase(name!);
    const batch = Number(n);
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

  private intelligence(phase: PhaseConfig): Promise<string> {
    let p = this.texts.get(phase.name);
    if (!p) {
      p = this.o.intelligence(phase).then((text) => {
        const expected = this.d.parts.get(phase.name)!.intelligence[phase.intelligence.split(path.sep).join('/')];
        if (hashString(text) !== expected) throw new InputChanged(`${phase.intelligence} changed while cf was running`);
        return text;
      });
      this.texts.set(phase.name, p);
    }
    return p;
  }

  merge(phase: PhaseConfig): Promise<void> {
    let p = this.merges.get(phase.name);
    if (!p) {
      p = this.writeMerge(phase);
      this.merges.set(phase.name, p);
    }
    return p;
  }

  private async writeMerge(phase: PhaseConfig, restarted = false): Promise<void> {
    const graph = this.d.graph;
    const results = await Promise.all(graph.batches().map((b) => this.batch(phase, b)));
    const output = phase.output;
    const notOk = results.map((r, i) => ({ r, t: batchTarget(phase.name, i + 1) })).filter((x) => x.r.kind !== 'ok');
    if (notOk.length) {
      if (notOk.every((x) => x.r.kind === 'cancelled' || x.r.kind === 'stopped')) return;
      const names = notOk.slice(0, 3).map((x) => x.t).join(', ') + (notOk.length > 3 ? ` and ${notOk.length - 3} more` : '');
      this.o.emit({ event: 'merge-skipped', phase: phase.name, output, because: `${notOk.length} batch${notOk.length === 1 ? '' : 'es'} not built (${names})` });
      return;
    }
    const records = results.map((r) => (r as { kind: 'ok'; record: BatchRecord }).record);
    const key = mergeKey(phase, this.d.graph.pipeline.course, records);
    const rec = this.d.store.merge(phase.name);
    const stamp = await this.o.outputs.stamp(output);
    let reason = 'batch outputs changed';
    let replaced: string | undefined;
    // The file on disk is the one cf wrote last when its stamp, else its content, is the merge record's.
    const ours = stamp !== null && rec !== undefined && (sameStamp(stamp, rec.file) || (await this.sameContent(output, rec.file.hash)));
    if (!stamp) reason = rec ? `${output} was missing` : 'first merge';
    else if (ours && rec.key === key) {
      // Touched or rewritten identically: nothing to do but remember the new stamp.
      if (!sameStamp(stamp, rec.file)) this.d.store.recordMerge({ ...rec, file: { hash: rec.file.hash, ...stamp }, at: this.now() });
      this.o.emit({ event: 'merge-fresh', phase: phase.name, output });
      return;
    } else if (!ours) {
      // Edited by hand (edits that validated were taken as batch outputs before the build), or a file cf
      // never wrote: never replaced without a copy.
      replaced = await this.o.outputs.preserve(output);
      reason = rec ? `${output} was edited by hand; the edited copy is kept at ${replaced}` : `${output} was not written by cf; it is kept at ${replaced}`;
    }
    if (this.o.signal.aborted) return;
    let merged: { items: number; spans?: Spans };
    let file: FileStamp;
    try {
      if (phase.merge.format === 'json') {
        // Reuse the previous file's unchanged batches, when it is the file cf wrote; write as it is made.
        const previous = rec?.byteSpans && stamp && sameStamp(stamp, rec.file) ? await this.o.outputs.openBytes(output) : null;
        try {
          const m = mergeJsonArray(
            records.map((r) => r.out),
            (i) => this.blobItems(records[i]!, { keep: false, onRepair: 'restart' }),
            previous && rec?.byteSpans ? { bytes: previous, spans: unpackSpans(rec.byteSpans) } : null,
          );
          file = await this.o.outputs.writeStream(output, m.chunks);
          merged = m.done();
        } finally {
          await previous?.close();
        }
      } else {
        const batches = await Promise.all(records.map((r) => this.blobItems(r, { keep: false, onRepair: 'restart' })));
        const generated = records.reduce((latest, r) => (r.at > latest ? r.at : latest), '');
        const m = mergeBatches(phase.merge, this.d.graph.pipeline.course, batches, generated);
        file = await this.o.outputs.write(output, m.text);
        merged = { items: m.items };
      }
    } catch (e) {
      // A batch's stored output was missing or damaged and the batch was built again: merge its new output.
      if (e instanceof MergeRestart && !restarted) return this.writeMerge(phase, true);
      if (!(e instanceof InputChanged) && !(e instanceof MergeRestart)) throw e;
      // Not written: the build is not done (exit 1), as for a batch whose input changed while cf ran.
      this.summary.cancelled.push(output);
      this.o.emit({ event: 'merge-skipped', phase: phase.name, output, because: e.message || 'a batch it holds was built again twice' });
      return;
    }
    mark(`merged ${output}`);
    this.d.store.recordMerge({ t: 'merge', phase: phase.name, path: output, key, file, items: merged.items, at: this.now(), ...(merged.spans ? { byteSpans: packSpans(merged.spans) } : {}) });
    this.summary.merged.push(output);
    this.o.emit({ event: 'merged', phase: phase.name, output, items: merged.items, batches: records.length, reason, ...(replaced ? { replaced } : {}) });
  }

  /** Whether a file's content has this hash (a merged output whose stamp changed: touched, or edited). */
  private async sameContent(rel: string, hash: Hash): Promise<boolean> {
    const bytes = await this.o.outputs.readBytes(rel);
    return bytes !== null && hashBytes(bytes) === hash;
  }
}

/** Thrown to a merge when a batch it reads was built again (its stored output was missing or damaged). */
class MergeRestart extends Error {}
