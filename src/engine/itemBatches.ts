import type { AttemptError, AttemptUsage, CheckResult } from '../exec/attempts.js';
import type { BudgetStop } from '../exec/budget.js';
import type { BatchExecutor, ContextSpec, JobEvent } from '../exec/executor.js';
import { describeError, type ValidationError } from '../exec/validate.js';
import type { Usage } from '../exec/runners/usage.js';
import type { Hash } from '../util/hash.js';
import type { Decider, Decision, ItemKey } from './decide.js';
import type { BuildEvent } from '../events/types.js';
import { decodeRefs, type RefsText } from './fingerprint.js';
import { InputChanged } from './inputChanged.js';
import type { InputReader } from './inputReader.js';
import { Packer, type PackEntry, type PackOutcome, type RunError, type Submission } from './packer.js';
import type { PhaseConfig } from '../config/pipeline.js';
import type { BatchRecord } from '../store/records.js';
import type { RunningRun } from './running.js';
import type { Item } from '../config/seeds.js';
import type { StaleReason } from './staleness.js';
import type { TargetId } from './targets.js';

/** What the engine lends the batches of items: independent phases. */
export interface ItemsHost {
  readonly decider: Decider;
  readonly executor: BatchExecutor;
  readonly inputs: InputReader;
  /** The build's stop (Ctrl-C): running agents are killed. */
  readonly signal: AbortSignal;
  /** True once the build is stopped or draining (cf watch): no batch starts. */
  stopping(): boolean;
  emit(e: BuildEvent): void;
  now(): string;
  runDir(phase: PhaseConfig, batch: number): string | null;
  /** -j priority of a batch's jobs. */
  priority(phase: PhaseConfig, batch: number): number;
  /** One item's cache key at this seed position (with the vocabulary context before it, for phases with one). */
  itemKey(phase: PhaseConfig, position: number, id: string, inputHash: Hash): Promise<ItemKey>;
  contextSpec(phase: PhaseConfig, ids: string[]): ContextSpec;
  /** Turns a job's events into the build's: `started` once its first agent has a slot, usage counted. */
  listen(o: { target: string; phase: PhaseConfig; batch: number; items: number; why: StaleReason[]; packed?: string[]; runDir?: string | null }): (e: JobEvent) => void;
  /** Registers a running agent run: returns its release, or null when its inputs already changed (cf watch). */
  register(run: RunningRun): (() => void) | null;
}

export type ItemsResult =
  /** `attempts` 0: every item was cached, and the batch assembled from them validated (no agent run). */
  | { kind: 'built'; record: BatchRecord; regenerated: number; attempts: number; warnings: number }
  | { kind: 'failed'; attempts: number; errors: AttemptError[] }
  | { kind: 'stopped'; stop: BudgetStop }
  | { kind: 'cancelled' };

const strip = ({ item, lego, rule, message }: ValidationError): ValidationError => ({
  ...(item !== undefined ? { item } : {}),
  ...(lego !== undefined ? { lego } : {}),
  ...(rule !== undefined ? { rule } : {}),
  message,
});

/** A run's usage, before it is counted as one batch's attempt. */
function withoutAttempt(u: AttemptUsage | null): Usage | null {
  if (!u) return null;
  const { attempt: _attempt, ...rest } = u;
  return rest;
}

/** The same error once (an error of a whole run is every item's). */
function unique<E extends ValidationError & { source?: string }>(errors: E[]): E[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const k = `${e.source ?? ''}\u0000${describeError(e)}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * The batches of `items: independent` phases. A stale batch reuses every item whose own key is cached and
 * sends the others to an agent, packed with other batches' stale items (packer.ts); it is then assembled
 * from cached and new items and validated as a whole. Whatever is rejected, in the run (an item missing or
 * malformed) or in the assembled batch (the errors name items; an error naming none is the whole batch's),
 * goes back to an agent with its errors, up to `attempts` agent runs for the batch. Only a batch that
 * validated is recorded, and its new items with it: a rejected item is never a cache hit.
 */
export class ItemBatches {
  private readonly packers = new Map<string, Packer>();

  constructor(private readonly host: ItemsHost) {}

  async build(phase: PhaseConfig, batch: number, target: TargetId, text: RefsText, decision: Extract<Decision, { kind: 'stale' }>): Promise<ItemsResult> {
    const h = this.host;
    const d = h.decider;
    const started = Date.now();
    const refs = decodeRefs(text);
    const ids = refs.map(([id]) => id);
    const [start] = d.graph.batchRange(batch);
    const max = phase.attempts;
    let inputItems: Item[];
    try {
      inputItems = await h.inputs.items(phase, batch, text);
    } catch (e) {
      if (!(e instanceof InputChanged)) throw e;
      return { kind: 'failed', attempts: 0, errors: [{ attempt: 0, source: 'agent', message: e.message }] };
    }

    const entries = new Map<string, PackEntry>();
    /** Each item's output as it stands: cached, or made in this build. */
    const outputs = new Map<string, Item>();
    /** The items made in this build: cached under their keys once the batch validates. */
    const made = new Set<string>();
    let toRun: string[] = [];
    for (const [i, [id, inputHash]] of refs.entries()) {
      entries.set(id, { ...(await h.itemKey(phase, start + i, id, inputHash)), position: start + i, input: inputItems[i]! });
    }
    // Looked up together: a shared cache (sharedStore.ts) answers them at once, not one after another. Their
    // outputs are then read one by one (items of one batch share a stored output: it is parsed once).
    const hits = await Promise.all(
      refs.map(async ([id]) => {
        const hit = await d.findItem(phase, entries.get(id)!);
        return hit && (await d.store.blobs.has(hit.out)) ? hit : undefined;
      }),
    );
    for (const [i, [id]] of refs.entries()) {
      const hit = hits[i];
      const content = hit ? await h.inputs.itemContent(hit.out, id) : undefined;
      if (content) outputs.set(id, content);
      else toRun.push(id);
    }

    let attempt = 0;
    /** Once a round (an agent run, or the assembled batch's check) is done, the batch is under way. */
    let underWay = false;
    const errors: AttemptError[] = [];
    const usage: AttemptUsage[] = [];
    let previous = new Map<string, ValidationError[]>();
    const failed = (): ItemsResult => {
      d.store.recordFailure({ t: 'fail', target, key: decision.key, attempts: attempt, errors, at: h.now(), ...(usage.length ? { usage } : {}) });
      return { kind: 'failed', attempts: attempt, errors };
    };
    const retry = (round: AttemptError[]): void =>
      h.emit({ event: 'retried', target, phase: phase.name, batch, batchCount: d.graph.batchCount, attempt: attempt + 1, of: max, errors: round });

    for (;;) {
      if (toRun.length) {
        // A batch not yet under way does not start once the build drains; a later round of one that is, does.
        if (underWay ? h.signal.aborted : h.stopping()) return { kind: 'cancelled' };
        attempt++;
        const share = await this.packer(phase).submit({ target, batch, attempt, retry: underWay, entries: toRun.map((id) => entries.get(id)!), previous });
        underWay = true;
        if (share.kind === 'cancelled') return share;
        if (share.kind === 'stopped') {
          attempt--;
          // Attempts already paid for are kept (as a failure record), so their cost and errors are not lost.
          if (attempt > 0) d.store.recordFailure({ t: 'fail', target, key: decision.key, attempts: attempt, errors, at: h.now(), ...(usage.length ? { usage } : {}), stopped: share.stop });
          return { kind: 'stopped', stop: share.stop };
        }
        if (share.usage) usage.push({ ...share.usage, attempt });
        for (const [id, it] of Object.entries(share.items)) {
          outputs.set(id, it);
          made.add(id);
        }
        const failedItems = Object.entries(share.failed);
        if (failedItems.length) {
          const round = unique(failedItems.flatMap(([, es]) => es)).map((e) => ({ attempt, ...e }));
          errors.push(...round);
          if (share.fatal || attempt >= max) return failed();
          toRun = failedItems.map(([id]) => id);
          // Only the errors of an output go into the next prompt; how the run failed is not the model's to fix.
          previous = new Map(failedItems.map(([id, es]) => [id, es.filter((e) => e.source !== 'agent').map(strip)]));
          retry(round);
          continue;
        }
        toRun = [];
      }

      const checked = await this.check(phase, batch, target, ids, inputItems, outputs);
      underWay = true;
      if (checked.kind === 'cancelled') return checked;
      if (checked.kind === 'valid') {
        // The new items become cache hits now, with the batch they validated in.
        const fresh = [...made].map((id) => entries.get(id)!);
        const record = await d.recordOutput(phase, target, decision, checked.items, { attempts: attempt, ms: Date.now() - started, at: h.now(), warnings: checked.warnings, usage }, fresh);
        h.inputs.remember(record.out, checked.items);
        return { kind: 'built', record, regenerated: made.size, attempts: attempt, warnings: checked.warnings.length };
      }
      const round = checked.errors.map((e) => ({ attempt, ...e }));
      errors.push(...round);
      if (checked.fatal || attempt >= max || ids.length === 0) return failed();
      // The items the errors name go back to the agent; errors that name none are the whole batch's.
      const inBatch = new Set(ids);
      const named = [...new Set(checked.errors.flatMap((e) => (e.item !== undefined && inBatch.has(e.item) ? [e.item] : [])))];
      const general = checked.errors.filter((e) => e.item === undefined || !inBatch.has(e.item)).map(strip);
      toRun = named.length ? named : ids;
      previous = new Map(toRun.map((id) => [id, [...checked.errors.filter((e) => e.item === id).map(strip), ...general]]));
      retry(round);
    }
  }

  /** The batch as merged (cached and new items, in order), through the built-in checks and the phase's validator. */
  private check(phase: PhaseConfig, batch: number, target: TargetId, ids: string[], inputItems: Item[], outputs: Map<string, Item>): Promise<CheckResult> {
    const h = this.host;
    const d = h.decider;
    const dir = h.runDir(phase, batch);
    return h.executor.execute(
      {
        v: 1,
        kind: 'check',
        target,
        phase: phase.name,
        batch,
        batchCount: d.graph.batchCount,
        priority: h.priority(phase, batch),
        idField: d.graph.pipeline.idField,
        intelligence: '',
        inputItems,
        inputIds: ids,
        output: ids.map((id) => outputs.get(id)!),
        note: '(assembled from cached and new items)',
        runDir: dir && `${dir}/assembled`,
        ...(phase.context ? { context: h.contextSpec(phase, ids) } : {}),
      },
      { signal: h.signal, onEvent: h.listen({ target, phase, batch, items: ids.length, why: [] }) },
    );
  }

  private packer(phase: PhaseConfig): Packer {
    let p = this.packers.get(phase.name);
    if (!p) this.packers.set(phase.name, (p = new Packer(this.host.decider.graph.pipeline.batchSize, (subs) => this.runPack(phase, subs))));
    return p;
  }

  /**
   * One agent run over the stale items of one or more batches (an `items` job). The answer is checked item
   * by item (the built-in checks); each batch then validates its own items with the rest of the batch. The
   * run is registered as running, so that a change to any of its items' inputs (cf watch) cancels it.
   */
  private async runPack(phase: PhaseConfig, subs: Submission[]): Promise<PackOutcome> {
    const h = this.host;
    const d = h.decider;
    const first = subs[0]!;
    const entries = subs.flatMap((s) => s.entries);
    const ids = entries.map((e) => e.id);
    const label = subs.length === 1 ? first.target : `${phase.name}#${subs.map((s) => s.batch).join('+')}`;
    const attempt = Math.max(...subs.map((s) => s.attempt));
    const everyItem = (e: RunError): Record<string, RunError[]> => Object.fromEntries(ids.map((id) => [id, [e]]));
    if (h.signal.aborted || (h.stopping() && !subs.some((s) => s.retry))) return { kind: 'cancelled' };
    const own = new AbortController();
    const release = h.register({
      target: label,
      phase,
      inputs: entries.map((e) => ({ kind: 'item', id: e.id, input: e.inputHash, key: e.key, ...(e.context ? { context: e.context } : {}) })),
      abort: () => own.abort(),
    });
    if (!release) return { kind: 'cancelled' };
    try {
      let intelligence: string;
      try {
        intelligence = await h.inputs.intelligence(phase);
      } catch (e) {
        if (!(e instanceof InputChanged)) throw e;
        return { kind: 'ran', items: {}, failed: everyItem({ source: 'agent', message: e.message }), fatal: true, usage: null };
      }
      const dir = h.runDir(phase, first.batch);
      const runDir = dir && (subs.length === 1 ? dir : `${dir}+${subs.slice(1).map((s) => s.batch).join('+')}`);
      const outcome = await h.executor.execute(
        {
          v: 1,
          kind: 'items',
          target: label,
          phase: phase.name,
          batch: first.batch,
          batchCount: d.graph.batchCount,
          priority: h.priority(phase, first.batch),
          idField: d.graph.pipeline.idField,
          intelligence,
          inputItems: entries.map((e) => e.input),
          inputIds: ids,
          attempt,
          previousErrors: unique(subs.flatMap((s) => s.entries.flatMap((e) => s.previous.get(e.id) ?? []))),
          runDir,
          ...(phase.context ? { context: h.contextSpec(phase, ids) } : {}),
        },
        {
          signal: AbortSignal.any([h.signal, own.signal]),
          onEvent: h.listen({ target: label, phase, batch: first.batch, items: ids.length, why: [{ kind: 'run-items', ids, retry: attempt > 1 }], runDir, ...(subs.length > 1 ? { packed: subs.map((s) => s.target) } : {}) }),
        },
      );
      if (outcome.kind !== 'ran') return outcome;
      return { ...outcome, usage: withoutAttempt(outcome.usage) };
    } finally {
      release();
    }
  }
}
