import type { Hash } from '../util/hash.js';
import { hashCanonical, hashString } from '../util/hash.js';
import type { ContextEntries, ContextKind, ContextState } from '../config/plugins.js';
import { registry } from '../config/registry.js';
import type { Item } from '../config/seeds.js';
import type { CheckJobSpec, ContextSpec } from '../exec/executor.js';
import {
  encodeRefs,
  type FingerprintText,
  fingerprintHead,
  fingerprintText,
  keyFromHead,
  keyText,
  makeFingerprint,
  parseFingerprint,
  contextHash,
  type ContextValue,
  type Fingerprint,
  type PhaseParts,
  type RefsText,
} from './fingerprint.js';
import type { ContextConfig, PhaseConfig } from '../config/pipeline.js';
import type { BatchRecord, FailureRecord, ItemRecord } from '../store/records.js';
import type { SeedSet } from '../config/seeds.js';
import type { BuildStore } from '../store/buildStore.js';
import { correctedView, Corrections, type CorrectedView } from './corrections.js';
import { diffFingerprints, type FreshReason, type StaleReason } from './staleness.js';
import { batchTarget, type BuildGraph, type TargetId } from './targets.js';

/** The outcome of one stale/fresh decision, with its reason: ninja's "explain", recorded every time. */
export type Decision =
  | { kind: 'fresh'; key: Hash; record: BatchRecord; reason: FreshReason }
  | { kind: 'stale'; key: Hash; fp: Fingerprint; reasons: StaleReason[]; failure?: FailureRecord };

type RecordOf = (batch: number) => Promise<{ vocab?: ContextEntries } | undefined> | { vocab?: ContextEntries } | undefined;

/**
 * A context kind's state (plugins.ts) grown batch by batch, in order, from the context phase's batch
 * records (the entries each keeps in `vocab`). `extend` returns the first batch it could not add (no record,
 * or a record without entries), or 0.
 */
export class CumulativeContext {
  readonly state: ContextState;
  private batches = 0;
  /** extend() calls, one after another: two at once would add the same batch twice. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly kind: ContextKind) {
    this.state = kind.create();
  }

  extend(upTo: number, recordOf: RecordOf): Promise<number> {
    const run = this.queue.then(() => this.extendNow(upTo, recordOf));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async extendNow(upTo: number, recordOf: RecordOf): Promise<number> {
    for (let j = this.batches + 1; j <= upTo; j++) {
      const r = await recordOf(j);
      if (!r?.vocab) return j;
      this.state.add(r.vocab);
      this.batches = j;
    }
    return 0;
  }
}

/**
 * Where contexts come from: the context phase's batch records as the caller sees them (recorded ones for
 * status and --dry-run, this build's results for the engine), and the state grown from them so far.
 */
export class ContextSource {
  private readonly built = new Map<string, CumulativeContext>();

  constructor(readonly record: (phase: string, batch: number) => Promise<BatchRecord | undefined> | BatchRecord | undefined) {}

  /** A context's state (one per context phase: it is the context of one kind, see phaseConfig.ts). */
  of(c: ContextConfig): CumulativeContext {
    let v = this.built.get(c.phase);
    if (!v) this.built.set(c.phase, (v = new CumulativeContext(registry.contextKind(c.kind))));
    return v;
  }
}

/** A context not available yet: the context batch it waits for. */
export type MissingContext = { missing: string };

/** A context that waits for a batch (a context value may hold any kind's name, so `'missing' in` cannot tell). */
export function isMissing(c: ContextValue | MissingContext): c is MissingContext {
  return typeof (c as MissingContext).missing === 'string';
}

/** What a key holds of a context: its figures under its kind's name (`{vocabulary: {phase, hash, words}}`). */
function contextValue(c: ContextConfig, figures: { hash: string; words: number }): ContextValue {
  return { [c.kind]: { phase: c.phase, ...figures } };
}

/** One item of an `items: independent` phase: its input's hash, its own cache key, and its context. */
export interface ItemKey {
  id: string;
  inputHash: Hash;
  key: Hash;
  context?: ContextValue;
}

/** Warnings kept with a record (the first few). */
const MAX_WARNINGS_KEPT = 20;

/** Everything a decision reads: the graph, the seeds, the per-phase key parts, what was recorded. */
export class Decider {
  private readonly heads = new Map<string, string>();
  private readonly keys = new Map<string, Map<string, Hash>>();
  private readonly seedTexts: RefsText[] = [];

  constructor(
    readonly graph: BuildGraph,
    readonly seeds: SeedSet,
    readonly parts: ReadonlyMap<string, PhaseParts>,
    readonly store: BuildStore,
    /** The reviewers' corrections of generated items (corrections.ts). */
    readonly corrections: Corrections = new Corrections(),
  ) {}

  private readonly views = new Map<string, Promise<CorrectedView | null>>();
  private readonly viewsStored = new Set<string>();

  /**
   * A batch's record as what reads it sees it: with its items' corrections applied (corrections.ts), or
   * the record itself when none has one. `put`: its output is stored, for a build that reads it back.
   */
  async view(phase: PhaseConfig, record: BatchRecord, o: { put?: boolean } = {}): Promise<BatchRecord> {
    if (!this.corrections.touches(phase.name, record.items)) return record;
    const v = await this.correctedView(phase, record);
    if (!v) return record;
    if (o.put && !this.viewsStored.has(v.record.out)) {
      await this.store.blobs.put(v.text);
      this.viewsStored.add(v.record.out);
    }
    return v.record;
  }

  /** The corrected view of a batch (null: no correction applies to its items), made once per set of corrections. */
  correctedView(phase: PhaseConfig, record: BatchRecord): Promise<CorrectedView | null> {
    const memo = `${this.corrections.revision}\u0000${phase.name}\u0000${record.out}`;
    let v = this.views.get(memo);
    if (!v) {
      v = correctedView({ record, phase: phase.name, corrections: this.corrections, blobs: this.store.blobs, idField: this.graph.pipeline.idField, entries: (items) => this.contextEntries(phase, items) });
      this.views.set(memo, v);
    }
    return v;
  }

  private positions: Map<string, number> | undefined;

  /** A seed's position in the seeds file (0 for an id it does not hold). */
  positionOf(id: string): number {
    this.positions ??= new Map(this.seeds.ids.map((x, i) => [x, i]));
    return this.positions.get(id) ?? 0;
  }

  /**
   * The context of a job over these items, as data: a prompt section and what a validator may use before
   * each item (the context kind says what: e.g. the words taught before them, and those taught later on).
   */
  contextSpec(phase: PhaseConfig, ids: string[], source: ContextSource): ContextSpec {
    const c = phase.context!;
    return source.of(c).state.spec({ phase: c.phase, ids, positions: ids.map((id) => this.positionOf(id)), seedIds: this.seeds.ids });
  }

  /**
   * The job that runs a phase's validation, and nothing else, on output cf did not generate (a hand edit,
   * an adopted file): checked with the batch's inputs and context as an agent's output would be.
   */
  checkJob(o: { phase: PhaseConfig; target: TargetId; batch: number; idField: string; inputItems: Item[]; ids: string[]; output: Item[]; note: string; runDir: string | null; contexts: ContextSource }): CheckJobSpec {
    return {
      v: 1,
      kind: 'check',
      target: o.target,
      phase: o.phase.name,
      batch: o.batch,
      batchCount: this.graph.batchCount,
      priority: 0,
      idField: o.idField,
      intelligence: '',
      inputItems: o.inputItems,
      inputIds: o.ids,
      output: o.output,
      note: o.note,
      runDir: o.runDir,
      ...(o.phase.context ? { context: this.contextSpec(o.phase, o.ids, o.contexts) } : {}),
    };
  }

  /**
   * A batch's input items as its phase sees them. A phase whose upstream is also its context phase sees
   * them as the context kind shows them (the vocabulary: each LEGO's `new` as the merge sets it); that view
   * is part of the item's context (contextAt: `readsItems`), hence its key.
   */
  asInput(phase: PhaseConfig, items: Item[], source: ContextSource): Item[] {
    const c = phase.context;
    if (c?.phase !== phase.from) return items;
    const state = source.of(c).state;
    if (!state.asInput) return items;
    const idField = this.graph.pipeline.idField;
    return items.map((it) => state.asInput!(it, this.positionOf(String(it[idField]))));
  }

  /** "seeds" or the upstream batch target, e.g. "pairs#3". */
  source(phase: PhaseConfig, batch: number): string {
    return phase.from === 'seeds' ? 'seeds' : batchTarget(phase.from, batch);
  }

  seedRefs(batch: number): RefsText {
    let out = this.seedTexts[batch];
    if (out !== undefined) return out;
    const [start, end] = this.graph.batchRange(batch);
    let text = '';
    for (let i = start; i < end; i++) text += i > start ? `\n${this.seeds.ids[i]!}\t${this.seeds.hashes[i]!}` : `${this.seeds.ids[i]!}\t${this.seeds.hashes[i]!}`;
    out = text as RefsText;
    this.seedTexts[batch] = out;
    return out;
  }

  fingerprint(phase: PhaseConfig, items: RefsText, context?: ContextValue): Fingerprint {
    return makeFingerprint(this.parts.get(phase.name)!, phase.from, items, context);
  }

  /**
   * The context of a batch (items before its first seed) or of one item (seeds before it), from the context
   * phase's records; `missing` names the context batch that is not available yet.
   */
  async contextAt(
    phase: PhaseConfig,
    position: number,
    source: ContextSource,
  ): Promise<ContextValue | MissingContext | undefined> {
    const c = phase.context;
    if (!c) return undefined;
    const cumulative = source.of(c);
    const need = position === 0 ? 0 : this.graph.batchOf(position - 1);
    const missing = await cumulative.extend(need, (j) => source.record(c.phase, j));
    if (missing) return { missing: batchTarget(c.phase, missing) };
    return contextValue(c, cumulative.state.at(position, phase.from === c.phase));
  }

  /**
   * The context of a whole batch: the context before each of its positions (an item inside the batch may
   * see what its neighbours add in the context phase, which need not be this phase's upstream).
   */
  async batchContext(phase: PhaseConfig, batch: number, source: ContextSource): Promise<ContextValue | MissingContext | undefined> {
    const [start, end] = this.graph.batchRange(batch);
    const through = await this.contextAt(phase, end, source);
    if (!through || isMissing(through)) return through;
    const c = phase.context!;
    const first = (await this.contextAt(phase, start, source)) as ContextValue;
    const state = source.of(c).state;
    let text = '';
    for (let p = start; p < end; p++) text += state.at(p, phase.from === c.phase).hash;
    return contextValue(c, { ...first[c.kind]!, hash: hashString(text) });
  }



  /** The key of a batch (or, for one item, of that item) of this phase with these input items. */
  keyFor(phase: PhaseConfig, items: RefsText, context?: ContextValue): Hash {
    // Keys are asked for twice per batch (planning, then building): remember them by their items text.
    let memo = this.keys.get(phase.name);
    if (!memo) this.keys.set(phase.name, (memo = new Map()));
    const memoKey = context ? `${items}\n@${contextHash(context)}` : items;
    const known = memo.get(memoKey);
    if (known) return known;
    const key = keyFromHead(this.head(phase), items, context);
    memo.set(memoKey, key);
    return key;
  }

  private head(phase: PhaseConfig): string {
    let head = this.heads.get(phase.name);
    if (head === undefined) this.heads.set(phase.name, (head = fingerprintHead(this.parts.get(phase.name)!, phase.from)));
    return head;
  }

  /** What keyFor() hashes, when a store asks (a shared cache names its records by its SHA-256). */
  keyMaterial(phase: PhaseConfig, items: RefsText, context?: ContextValue): () => string {
    return () => keyText(this.head(phase), items, context);
  }

  /** An item's cached output (items: independent), looked up with what a shared store needs. */
  findItem(phase: PhaseConfig, item: Pick<ItemKey, 'id' | 'inputHash' | 'key' | 'context'>): Promise<ItemRecord | undefined> {
    return this.store.findItem(item.key, this.keyMaterial(phase, encodeRefs([[item.id, item.inputHash]]), item.context));
  }

  /** Decides a batch whose input items are known (seeds, or a fresh/just-built upstream batch). */
  async decide(phase: PhaseConfig, batch: number, items: RefsText, context?: ContextValue): Promise<Decision> {
    const target = batchTarget(phase.name, batch);
    const key = this.keyFor(phase, items, context);
    const hit = await this.store.findBatch(key, this.keyMaterial(phase, items, context));
    // A record is fresh only with its stored output (a no-op build never gets here: its fast path answers
    // first). One found damaged when read is built again by the engine (engine.ts, repair).
    const stored = hit !== undefined && (await this.store.blobs.has(hit.out));
    if (hit && stored) {
      const reason: FreshReason = hit.remote
        ? { kind: 'remote', host: hit.remote.host, built: hit.at, taken: this.store.taken?.(hit) ?? false }
        : hit.target === target
          ? { kind: 'recorded', at: hit.at }
          : { kind: 'cached', at: hit.at, target: hit.target };
      return { kind: 'fresh', key, record: hit, reason };
    }
    const fp = this.fingerprint(phase, items, context);
    const reasons: StaleReason[] = hit ? [{ kind: 'output-missing', target: hit.target, out: hit.out }] : this.reasons(target, fp, this.source(phase, batch));
    const failure = this.store.failure(target);
    return { kind: 'stale', key, fp, reasons, ...(failure?.key === key ? { failure } : {}) };
  }

  /**
   * The cache key of one item of an `items: independent` phase at a seed position: its input item and the
   * context before it (from `source`: the engine's contexts in a build, the recorded ones elsewhere).
   */
  async itemKey(phase: PhaseConfig, position: number, id: string, inputHash: Hash, source: ContextSource): Promise<ItemKey> {
    const context = phase.context ? ((await this.contextAt(phase, position, source)) as ContextValue | undefined) : undefined;
    return { id, inputHash, key: this.keyFor(phase, encodeRefs([[id, inputHash]]), context), ...(context ? { context } : {}) };
  }

  /**
   * Records a validated output for a stale decision: the blob stored, the items listed with their hashes,
   * what phases reading this one as context need, then the record appended. The one way a batch becomes
   * built (agent runs, item assembly, adoption, hand edits). `cache`: items of an `items: independent`
   * phase to cache under their own keys, with the batch they validated in (appended first: a crash in
   * between leaves a batch that reassembles from its cached items without an agent run).
   */
  async recordOutput(
    phase: PhaseConfig,
    target: TargetId,
    decision: Pick<BatchRecord, 'key'> & { fp: Fingerprint | FingerprintText },
    items: Item[],
    run: Pick<BatchRecord, 'attempts' | 'ms' | 'at'> & Partial<Pick<BatchRecord, 'warnings' | 'usage' | 'adopted' | 'edited'>>,
    cache: readonly ItemKey[] = [],
  ): Promise<BatchRecord> {
    const idField = this.graph.pipeline.idField;
    const out = await this.store.blobs.put(JSON.stringify(items));
    if (cache.length) {
      const byId = new Map(items.map((it) => [String(it[idField]), it]));
      for (const e of cache) {
        const it = byId.get(e.id);
        if (!it) continue;
        this.store.recordItem({ t: 'item', phase: phase.name, id: e.id, key: e.key, hash: hashCanonical(it), out, input: e.inputHash, ...(e.context ? { context: contextHash(e.context) } : {}), at: run.at });
      }
    }
    const record: BatchRecord = {
      t: 'batch',
      target,
      key: decision.key,
      fp: typeof decision.fp === 'string' ? decision.fp : fingerprintText(decision.fp),
      out,
      items: encodeRefs(items.map((it) => [String(it[idField]), hashCanonical(it)])),
      attempts: run.attempts,
      ms: run.ms,
      at: run.at,
      ...(run.warnings?.length ? { warnings: run.warnings.slice(0, MAX_WARNINGS_KEPT) } : {}),
      ...(run.usage?.length ? { usage: run.usage } : {}),
      ...(run.adopted ? { adopted: run.adopted } : {}),
      ...(run.edited ? { edited: run.edited } : {}),
      ...this.contextEntries(phase, items),
    };
    this.store.recordBatch(record);
    return record;
  }

  /** What a batch record of this phase keeps for the phase that reads it as its context (none: {}). */
  contextEntries(phase: PhaseConfig, items: readonly Item[]): { vocab?: ContextEntries } {
    const reader = this.graph.phases.find((p) => p.context?.phase === phase.name);
    return reader ? { vocab: registry.contextKind(reader.context!.kind).index(items, this.graph.pipeline.idField) } : {};
  }

  /** Why `fp` differs from what the target was last built with. */
  reasons(target: TargetId, fp: Fingerprint, source: string): StaleReason[] {
    const before = this.store.lastSuccess(target);
    if (!before) return [{ kind: 'never-built' }];
    const r = diffFingerprints(parseFingerprint(before.fp), fp, source);
    return r.length ? r : [{ kind: 'phase-config' }];
  }

  /**
   * For a batch whose upstream is not fresh: the reasons it will run whatever the upstream produces
   * (empty when it runs only if the upstream's output changes).
   */
  reasonsBesidesUpstream(phase: PhaseConfig, batch: number): StaleReason[] {
    const target = batchTarget(phase.name, batch);
    const before = this.store.lastSuccess(target);
    if (!before) return [{ kind: 'never-built' }];
    const was = parseFingerprint(before.fp);
    const fp = this.fingerprint(phase, was.items, was.context);
    return diffFingerprints(was, fp, this.source(phase, batch));
  }
}
