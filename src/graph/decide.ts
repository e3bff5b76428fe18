import type { Hash } from '../util/hash.js';
import { contextExtras, CumulativeVocabulary } from './context.js';
import { hashCanonical, hashString } from '../util/hash.js';
import type { Item } from './seeds.js';
import {
  encodeRefs,
  fingerprintHead,
  fingerprintText,
  keyFromHead,
  makeFingerprint,
  parseFingerprint,
  type ContextValue,
  type Fingerprint,
  type PhaseParts,
  type RefsText,
} from './fingerprint.js';
import type { ObjectStore } from './objects.js';
import type { PhaseConfig } from './pipeline.js';
import type { BatchRecord, FailureRecord } from './records.js';
import type { SeedSet } from './seeds.js';
import type { State } from './state.js';
import { diffFingerprints, type FreshReason, type StaleReason } from './staleness.js';
import { batchTarget, type BuildGraph, type TargetId } from './targets.js';

/** The outcome of one stale/fresh decision, with its reason: ninja's "explain", recorded every time. */
export type Decision =
  | { kind: 'fresh'; key: Hash; record: BatchRecord; reason: FreshReason }
  | { kind: 'stale'; key: Hash; fp: Fingerprint; reasons: StaleReason[]; failure?: FailureRecord };

/**
 * Where contexts come from: the context phase's batch records as the caller sees them (recorded ones for
 * status and --dry-run, this build's results for the engine), and the vocabulary built from them so far.
 */
export class ContextSource {
  private readonly built = new Map<string, CumulativeVocabulary>();

  constructor(readonly record: (phase: string, batch: number) => BatchRecord | undefined) {}

  vocabulary(phase: string): CumulativeVocabulary {
    let v = this.built.get(phase);
    if (!v) this.built.set(phase, (v = new CumulativeVocabulary()));
    return v;
  }
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
    readonly state: State,
    readonly objects: ObjectStore,
  ) {}

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
   * The vocabulary context of a batch (items before its first seed) or of one item (seeds before it), from
   * the context phase's records; `missing` names the context batch that is not available yet.
   */
  contextAt(
    phase: PhaseConfig,
    position: number,
    source: ContextSource,
  ): ContextValue | { missing: string } | undefined {
    const c = phase.context;
    if (!c) return undefined;
    const cumulative = source.vocabulary(c.vocabulary);
    const need = position === 0 ? 0 : this.graph.batchOf(position - 1);
    const missing = cumulative.extend(need, (j) => source.record(c.vocabulary, j));
    if (missing) return { missing: batchTarget(c.vocabulary, missing) };
    return { vocabulary: { phase: c.vocabulary, ...cumulative.vocab.before(position, phase.from === c.vocabulary) } };
  }

  /**
   * The context of a whole batch: the vocabulary before each of its positions (an item inside the batch
   * may see words its neighbours teach in the context phase, which need not be this phase's upstream).
   */
  batchContext(phase: PhaseConfig, batch: number, source: ContextSource): ContextValue | { missing: string } | undefined {
    const [start, end] = this.graph.batchRange(batch);
    const through = this.contextAt(phase, end, source);
    if (!through || 'missing' in through) return through;
    const first = this.contextAt(phase, start, source) as ContextValue;
    const v = source.vocabulary(phase.context!.vocabulary).vocab;
    let text = '';
    for (let p = start; p < end; p++) text += v.before(p, phase.from === phase.context!.vocabulary).hash;
    return { vocabulary: { ...first.vocabulary, hash: hashString(text) } };
  }



  /** The key of a batch (or, for one item, of that item) of this phase with these input items. */
  keyFor(phase: PhaseConfig, items: RefsText, context?: ContextValue): Hash {
    // Keys are asked for twice per batch (planning, then building): remember them by their items text.
    let memo = this.keys.get(phase.name);
    if (!memo) this.keys.set(phase.name, (memo = new Map()));
    const memoKey = context ? `${items}\n@${context.vocabulary.hash}` : items;
    const known = memo.get(memoKey);
    if (known) return known;
    let head = this.heads.get(phase.name);
    if (head === undefined) this.heads.set(phase.name, (head = fingerprintHead(this.parts.get(phase.name)!, phase.from)));
    const key = keyFromHead(head, items, context);
    memo.set(memoKey, key);
    return key;
  }

  /** Decides a batch whose input items are known (seeds, or a fresh/just-built upstream batch). */
  decide(phase: PhaseConfig, batch: number, items: RefsText, context?: ContextValue): Decision {
    const target = batchTarget(phase.name, batch);
    const key = this.keyFor(phase, items, context);
    const hit = this.state.withKey(key);
    // The blob is trusted to exist (a stat per batch would cost a no-op build at 20,000 seeds dearly);
    // if it turns out to be missing when read, the engine forgets the record and asks for a rebuild.
    if (hit) {
      const reason: FreshReason = hit.target === target ? { kind: 'recorded', at: hit.at } : { kind: 'cached', at: hit.at, target: hit.target };
      return { kind: 'fresh', key, record: hit, reason };
    }
    const fp = this.fingerprint(phase, items, context);
    const reasons = this.reasons(target, fp, this.source(phase, batch));
    const failure = this.state.failure(target);
    return { kind: 'stale', key, fp, reasons, ...(failure?.key === key ? { failure } : {}) };
  }

  /**
   * Records a validated output for a stale decision: the blob stored, the items listed with their hashes,
   * what phases reading this one as context need, then the record appended. The one way a batch becomes
   * built (agent runs, item assembly, adoption).
   */
  async recordOutput(
    phase: PhaseConfig,
    target: TargetId,
    decision: Extract<Decision, { kind: 'stale' }>,
    items: Item[],
    run: Pick<BatchRecord, 'attempts' | 'ms' | 'at'> & Partial<Pick<BatchRecord, 'warnings' | 'usage' | 'adopted'>>,
  ): Promise<BatchRecord> {
    const idField = this.graph.pipeline.idField;
    const record: BatchRecord = {
      t: 'batch',
      target,
      key: decision.key,
      fp: fingerprintText(decision.fp),
      out: await this.objects.put(JSON.stringify(items)),
      items: encodeRefs(items.map((it) => [String(it[idField]), hashCanonical(it)])),
      attempts: run.attempts,
      ms: run.ms,
      at: run.at,
      ...(run.warnings?.length ? { warnings: run.warnings.slice(0, MAX_WARNINGS_KEPT) } : {}),
      ...(run.usage?.length ? { usage: run.usage } : {}),
      ...(run.adopted ? { adopted: run.adopted } : {}),
      ...contextExtras(this.graph.phases, phase.name, items, idField),
    };
    this.state.append(record);
    return record;
  }

  /** Why `fp` differs from what the target was last built with. */
  reasons(target: TargetId, fp: Fingerprint, source: string): StaleReason[] {
    const before = this.state.lastSuccess(target);
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
    const before = this.state.lastSuccess(target);
    if (!before) return [{ kind: 'never-built' }];
    const was = parseFingerprint(before.fp);
    const fp = this.fingerprint(phase, was.items, was.context);
    return diffFingerprints(was, fp, this.source(phase, batch));
  }
}
