import path from 'node:path';
import type { PhaseConfig } from '../config/pipeline.js';
import { SeedsChanged, type Item } from '../config/seeds.js';
import type { BatchRecord } from '../store/records.js';
import { hashCanonical, hashString, type Hash } from '../util/hash.js';
import { LruMap } from '../util/lru.js';
import type { ContextSource, Decider } from './decide.js';
import { decodeRefs, type RefsText } from './fingerprint.js';
import { InputChanged } from './inputChanged.js';
import type { TargetId } from './targets.js';

/** What reading a batch's inputs needs from the build it is part of. */
export interface InputHost {
  decider: Decider;
  /** The build's contexts (the vocabulary its batches have taught so far). */
  contexts: ContextSource;
  /** The phase's intelligence as read from disk (checked here against the hash the keys were made with). */
  readIntelligence(phase: PhaseConfig): Promise<string>;
  /** The upstream batch's result in this build (it is built, or found fresh, first). */
  upstream(phase: PhaseConfig, batch: number): Promise<BatchRecord>;
  /** Builds a batch again whose stored output was missing or damaged when read: its new record, or null. */
  repair(record: BatchRecord): Promise<BatchRecord | null>;
  /** Whether the output of this target was built again in this build already (its blob cannot be read back). */
  repaired(record: BatchRecord): boolean;
}

/** Thrown to a merge when a batch it reads was built again (its stored output was missing or damaged). */
export class MergeRestart extends Error {}

/**
 * Reads what stale batches read (seeds, upstream outputs, intelligence), each checked against the hashes
 * its key was computed from: an input changed since is InputChanged, not a failure. Outputs parsed in this
 * build are kept a while (the most recently used): a downstream batch usually runs soon after its upstream.
 */
export class InputReader {
  private readonly parsed = new LruMap<string, Item[]>(256);
  private readonly texts = new Map<string, Promise<string>>();

  constructor(private readonly h: InputHost) {}

  private get d(): Decider {
    return this.h.decider;
  }

  /** What a stale batch's run reads, or what changed under it. */
  async read(phase: PhaseConfig, batch: number, text: RefsText): Promise<{ items: Item[]; intelligence: string } | { changed: string }> {
    try {
      const items = this.d.graph.upstream(phase) ? await this.upstreamItems(phase, batch) : await this.seedItems(batch, text);
      return { items, intelligence: await this.intelligence(phase) };
    } catch (e) {
      if (e instanceof InputChanged || e instanceof SeedsChanged) return { changed: e.message };
      throw e;
    }
  }

  /** The batch's input items as its phase sees them (for items: independent, read once per batch). */
  async items(phase: PhaseConfig, batch: number, text: RefsText): Promise<Item[]> {
    return this.d.graph.upstream(phase) ? this.upstreamItems(phase, batch) : this.seedItems(batch, text);
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

  /** The upstream batch's output items, as this phase sees them. */
  private async upstreamItems(phase: PhaseConfig, batch: number): Promise<Item[]> {
    const record = await this.h.upstream(phase, batch);
    return this.d.asInput(phase, await this.blobItems(record, { onRepair: 'compare' }), this.h.contexts);
  }

  /** The phase's intelligence, read once, as its keys were computed. */
  intelligence(phase: PhaseConfig): Promise<string> {
    let p = this.texts.get(phase.name);
    if (!p) {
      p = this.h.readIntelligence(phase).then((text) => {
        const expected = this.d.parts.get(phase.name)!.intelligence[phase.intelligence.split(path.sep).join('/')];
        if (hashString(text) !== expected) throw new InputChanged(`${phase.intelligence} changed while cf was running`);
        return text;
      });
      this.texts.set(phase.name, p);
    }
    return p;
  }

  /** An item's cached output, from the blob that holds it. */
  async itemContent(out: Hash, id: string): Promise<Item | undefined> {
    let items = this.parsed.get(out);
    if (!items) {
      const text = await this.d.store.blobs.get(out);
      if (text === null) return undefined;
      items = JSON.parse(text) as Item[];
      this.parsed.set(out, items);
    }
    const idField = this.d.graph.pipeline.idField;
    return items.find((it) => String(it[idField]) === id);
  }

  /** Remembers the parsed items of a blob just stored. */
  remember(out: Hash, items: Item[]): void {
    this.parsed.set(out, items);
  }

  /**
   * A batch's output items; `keep`: remember them parsed for this build (not for a merge's one pass).
   * A stored output found missing or damaged is built again in this build (the host's repair). `onRepair`:
   * what the reader does then. `compare` (a batch reading its input, a context): it goes on with the new
   * output when that holds the same items its key was computed from, else it is not built (InputChanged).
   * `restart` (a merge): the merge starts again from the batches' new records (MergeRestart).
   */
  async blobItems(record: BatchRecord, o: { keep?: boolean; onRepair?: 'compare' | 'restart' } = {}): Promise<Item[]> {
    const cached = this.parsed.get(record.out);
    if (cached) return cached;
    const text = await this.d.store.blobs.get(record.out);
    if (text === null) {
      if (this.h.repaired(record)) throw new InputChanged(`the output of ${record.target}, built again in this build, cannot be read back from .cf/objects`);
      const again = await this.h.repair(record);
      if (!again) throw new InputChanged(`the stored output of ${record.target} was missing or damaged, and building it again did not succeed`);
      if (o.onRepair === 'restart') throw new MergeRestart();
      if (again.items !== record.items) throw new InputChanged(`${record.target} was built again (its stored output was missing or damaged) and its output changed`);
      return this.blobItems(again, o);
    }
    const items = JSON.parse(text) as Item[];
    if (o.keep !== false) this.parsed.set(record.out, items);
    return items;
  }
}

/** A batch's target, split: its phase's name and its number. */
export function splitTarget(target: TargetId): [string, number] {
  const i = target.lastIndexOf('#');
  return [target.slice(0, i), Number(target.slice(i + 1))];
}
