import path from 'node:path';
import { runBatch, type AttemptError } from '../rules/attempts.js';
import { mergeBatches } from '../rules/merge.js';
import type { Validator } from '../rules/validate.js';
import type { AgentResult, AgentRunner } from '../runners/types.js';
import { addUsage, emptyTotals, type UsageTotals } from '../runners/usage.js';
import type { Budget } from './budget.js';
import { hashCanonical, hashString } from '../util/hash.js';
import { Analysis, mergeKey } from './analyze.js';
import type { Decider, Decision } from './decide.js';
import type { Hash } from '../util/hash.js';
import type { BuildEvent } from './events.js';
import type { ItemRefs } from './fingerprint.js';
import { sameStamp, type OutputStore } from './outputs.js';
import type { PhaseConfig } from './pipeline.js';
import { Pool } from './pool.js';
import type { BatchRecord } from './records.js';
import type { Item } from './seeds.js';
import { formatFreshReason, formatStaleReason } from './staleness.js';
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

/** A batch whose agent is running: what it was started with, and how to stop it alone. */
export interface RunningBatch {
  phase: PhaseConfig;
  batch: number;
  items: ItemRefs;
  key: Hash;
  abort(): void;
}

type BatchResult =
  | { kind: 'ok'; record: BatchRecord }
  | { kind: 'failed' }
  | { kind: 'skipped'; because: string }
  | { kind: 'stopped' }
  | { kind: 'cancelled' };

const MAX_WARNINGS_KEPT = 20;

/** An input changed between computing a key and reading the content for the run: nothing is recorded. */
class InputChanged extends Error {}

/**
 * Runs what the requests need: one memoised promise per target, agents through a pool of `jobs`.
 * Batch k of a phase waits only for batch k of the phase it reads; a failed batch stops only its own chain.
 */
export class Engine {
  private readonly batches = new Map<TargetId, Promise<BatchResult>>();
  private readonly merges = new Map<string, Promise<void>>();
  private readonly pool: Pool;
  private readonly parsedBlobs = new Map<string, Item[]>();
  private readonly texts = new Map<string, Promise<string>>();
  private readonly summary: BuildSummary = { ran: [], fresh: [], failed: [], skipped: [], merged: [], cancelled: [], stopped: [], usage: {} };
  private readonly runners = new Map<string, AgentRunner>();
  private readonly inFlight = new Map<TargetId, RunningBatch>();

  constructor(private readonly o: EngineOptions) {
    this.pool = new Pool(Math.max(1, o.jobs));
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
          if (result?.usage) addUsage(totals, result.usage, req.attempt > 1);
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

  /** Announces what is fresh and what will run, before anything runs. */
  plan(requests: Request[]): void {
    const analysis = new Analysis(this.d);
    const seen = new Set<TargetId>();
    const counts = { fresh: 0, stale: 0, pending: 0, failedBefore: 0 };
    const visit = (phase: PhaseConfig, batch: number): void => {
      const t = batchTarget(phase.name, batch);
      if (seen.has(t)) return;
      seen.add(t);
      const up = this.d.graph.upstream(phase);
      if (up) visit(up, batch);
      const s = analysis.batch(phase, batch);
      counts[s.kind]++;
      if (s.kind === 'stale' && s.failure) counts.failedBefore++;
    };
    for (const r of requests) for (const b of r.batches) visit(this.d.graph.phase(r.phase), b);
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
    await Promise.all(work);
    return this.summary;
  }

  batch(phase: PhaseConfig, batch: number): Promise<BatchResult> {
    const t = batchTarget(phase.name, batch);
    let p = this.batches.get(t);
    if (!p) {
      p = this.buildBatch(phase, batch, t);
      this.batches.set(t, p);
    }
    return p;
  }

  private async buildBatch(phase: PhaseConfig, batch: number, target: TargetId): Promise<BatchResult> {
    const d = this.d;
    const up = d.graph.upstream(phase);
    let items: ItemRefs;
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

    const decision = d.decide(phase, batch, items);
    if (decision.kind === 'fresh') {
      let record = decision.record;
      if (record.target !== target) {
        // Same inputs were built under another batch number (seeds moved): reuse, record it here too.
        record = { ...record, target, at: this.now() };
        d.state.append(record);
      }
      this.summary.fresh.push(target);
      this.o.emit({ event: 'fresh', target, phase: phase.name, batch, reason: formatFreshReason(decision.reason) });
      return { kind: 'ok', record };
    }
    if (this.stopping) return this.cancelled(target);

    const reasons = decision.reasons.map(formatStaleReason);
    const pooled = this.runner(phase).pooled !== false;
    const slot = <T>(task: () => Promise<T>): Promise<T> => (pooled ? this.pool.run(batch * 1000 + phase.index, task) : task());
    return slot(async () => {
      if (this.stopping) return this.cancelled(target);
      const own = new AbortController();
      const signal = AbortSignal.any([this.o.signal, own.signal]);
      this.inFlight.set(target, { phase, batch, items, key: decision.key, abort: () => own.abort() });
      try {
        return await this.runStale(phase, batch, target, items, decision, reasons, signal);
      } finally {
        this.inFlight.delete(target);
      }
    });
  }

  /** True once the build is cancelled or draining: no new batch starts. */
  private get stopping(): boolean {
    return this.o.signal.aborted || (this.o.drain?.aborted ?? false);
  }

  /** The batches whose agents are running now. */
  running(): RunningBatch[] {
    return [...this.inFlight.values()];
  }

  private async runStale(
    phase: PhaseConfig,
    batch: number,
    target: TargetId,
    items: ItemRefs,
    decision: Extract<Decision, { kind: 'stale' }>,
    reasons: string[],
    signal: AbortSignal,
  ): Promise<BatchResult> {
    const d = this.d;
    const batchCount = d.graph.batchCount;
    const started = Date.now();
    let inputItems: Item[];
    let intelligence: string;
    try {
      inputItems = await this.inputItems(phase, batch, items);
      intelligence = await this.intelligence(phase);
    } catch (e) {
      if (!(e instanceof InputChanged)) throw e;
      const errors: AttemptError[] = [{ attempt: 0, source: 'agent', message: e.message }];
      this.summary.failed.push(target);
      this.o.emit({ event: 'failed', target, phase: phase.name, batch, batchCount, attempts: 0, errors });
      return { kind: 'failed' };
    }
    this.o.emit({ event: 'started', target, phase: phase.name, batch, batchCount, items: items.length, reasons });
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
      onAttempt: (attempt) => this.o.emit({ event: 'attempt', target, attempt, of: phase.attempts }),
      onRetry: (attempt, errors) =>
        this.o.emit({ event: 'retried', target, phase: phase.name, batch, batchCount, attempt, of: phase.attempts, errors }),
    });
    switch (outcome.kind) {
      case 'cancelled':
        return this.cancelled(target);
      case 'stopped':
        // Attempts already paid for are kept (as a failure record), so their cost and errors are not lost.
        if (outcome.attempts > 0) {
          d.state.append({ t: 'fail', target, key: decision.key, attempts: outcome.attempts, errors: outcome.errors, at: this.now(), usage: outcome.usage, stopped: outcome.reason });
        }
        this.summary.stopped.push(target);
        this.o.emit({ event: 'stopped', target, phase: phase.name, batch, reason: outcome.reason });
        return { kind: 'stopped' };
      case 'failed':
        d.state.append({ t: 'fail', target, key: decision.key, attempts: outcome.attempts, errors: outcome.errors, at: this.now(), ...(outcome.usage.length ? { usage: outcome.usage } : {}) });
        this.summary.failed.push(target);
        this.o.emit({ event: 'failed', target, phase: phase.name, batch, batchCount, attempts: outcome.attempts, errors: outcome.errors });
        return { kind: 'failed' };
      case 'valid': {
        const text = JSON.stringify(outcome.items);
        const out = await d.objects.put(text);
        this.parsedBlobs.set(out, outcome.items);
        const idField = d.graph.pipeline.idField;
        const record: BatchRecord = {
          t: 'batch',
          target,
          key: decision.key,
          fp: decision.fp,
          out,
          items: outcome.items.map((it) => [it[idField] as string, hashCanonical(it)]),
          attempts: outcome.attempts,
          ms: Date.now() - started,
          at: this.now(),
          ...(outcome.warnings.length ? { warnings: outcome.warnings.slice(0, MAX_WARNINGS_KEPT) } : {}),
          ...(outcome.usage.length ? { usage: outcome.usage } : {}),
        };
        // Only now, with the output stored and validated, does the batch count as built.
        d.state.append(record);
        this.summary.ran.push(target);
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

  private cancelled(target: TargetId): BatchResult {
    this.summary.cancelled.push(target);
    this.o.emit({ event: 'cancelled', target });
    return { kind: 'cancelled' };
  }

  /** The batch's input items, checked against the hashes its key was computed from. */
  private async inputItems(phase: PhaseConfig, batch: number, refs: ItemRefs): Promise<Item[]> {
    const up = this.d.graph.upstream(phase);
    if (up) {
      const u = (await this.batch(up, batch)) as { kind: 'ok'; record: BatchRecord };
      return this.blobItems(u.record);
    }
    const all = await this.d.seeds.items();
    const [start, end] = this.d.graph.batchRange(batch);
    const items = all.slice(start, end);
    items.forEach((it, i) => {
      if (hashCanonical(it) !== refs[i]?.[1]) throw new InputChanged(`${this.d.seeds.file} changed while cf was running; run cf build again`);
    });
    return items;
  }

  private async blobItems(record: BatchRecord): Promise<Item[]> {
    const cached = this.parsedBlobs.get(record.out);
    if (cached) return cached;
    const text = await this.d.objects.get(record.out);
    if (text === null) throw new InputChanged(`the recorded output of ${record.target} is missing or damaged in .cf/objects; run cf build again`);
    const items = JSON.parse(text) as Item[];
    this.parsedBlobs.set(record.out, items);
    return items;
  }

  private intelligence(phase: PhaseConfig): Promise<string> {
    let p = this.texts.get(phase.name);
    if (!p) {
      p = this.o.intelligence(phase).then((text) => {
        const expected = this.d.parts.get(phase.name)!.intelligence[phase.intelligence.split(path.sep).join('/')];
        if (hashString(text) !== expected) throw new InputChanged(`${phase.intelligence} changed while cf was running; run cf build again`);
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

  private async writeMerge(phase: PhaseConfig): Promise<void> {
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
    const rec = this.d.state.merge(phase.name);
    const stamp = await this.o.outputs.stamp(output);
    let reason = 'batch outputs changed';
    let replaced: string | undefined;
    if (!stamp) reason = rec ? `${output} was missing` : 'first merge';
    else if (rec && rec.key === key) {
      if (sameStamp(stamp, rec.file)) {
        this.o.emit({ event: 'merge-fresh', phase: phase.name, output });
        return;
      }
      const text = await this.o.outputs.read(output);
      if (text !== null && hashString(text) === rec.file.hash) {
        // Touched or rewritten identically: nothing to do but remember the new stamp.
        this.d.state.append({ ...rec, file: { hash: rec.file.hash, ...stamp }, at: this.now() });
        this.o.emit({ event: 'merge-fresh', phase: phase.name, output });
        return;
      }
      replaced = await this.o.outputs.preserve(output);
      reason = `${output} was edited by hand; the edited copy is kept at ${replaced}`;
    }
    if (this.o.signal.aborted) return;
    let batches: Item[][];
    try {
      batches = await Promise.all(records.map((r) => this.blobItems(r)));
    } catch (e) {
      if (!(e instanceof InputChanged)) throw e;
      this.o.emit({ event: 'merge-skipped', phase: phase.name, output, because: e.message });
      return;
    }
    const generated = records.reduce((latest, r) => (r.at > latest ? r.at : latest), '');
    const merged = mergeBatches(phase.merge, this.d.graph.pipeline.course, batches, generated);
    const file = await this.o.outputs.write(output, merged.text);
    this.d.state.append({ t: 'merge', phase: phase.name, path: output, key, file, items: merged.items, at: this.now() });
    this.summary.merged.push(output);
    this.o.emit({ event: 'merged', phase: phase.name, output, items: merged.items, batches: records.length, reason, ...(replaced ? { replaced } : {}) });
  }
}
