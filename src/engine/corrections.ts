import jsonpointer from 'jsonpointer';
import type { Correction } from '../config/corrections.js';
import type { Item } from '../config/seeds.js';
import type { ContextEntries } from '../config/plugins.js';
import type { BlobStore } from '../store/blobs.js';
import type { BatchRecord } from '../store/records.js';
import { hashCanonical, hashString } from '../util/hash.js';
import { decodeRefs, encodeRefs, type RefsText } from './fingerprint.js';

/**
 * The reviewers' corrections of generated items (config/corrections.ts: `corrections/PHASE.jsonl`), as a
 * build applies them. They are not batch outputs: a batch's record keeps what its agent generated, under
 * the key of what it read, and the phase's *view* of the batch (`correctedView`) is that output with the
 * corrections of its items applied. Downstream batches read the view (its items' hashes are their keys'
 * inputs: a correction reruns what reads the item, and only that), the merge writes it, and a context
 * (the vocabulary) is taken from it. When a batch is generated again (its intelligence edited), the
 * corrections apply to the new output all the same: they survive regeneration, flagged as made against an
 * older generation (their `base` is not the new item's hash) until the reviewer keeps or drops them.
 */
export class Corrections {
  private readonly byPhase = new Map<string, Correction[]>();
  private readonly byItem = new Map<string, Map<string, Correction[]>>();
  /** Changes whenever a phase's corrections do (the views made from older ones are not reused). */
  revision = 0;

  constructor(
    initial: ReadonlyMap<string, Correction[]> = new Map(),
    /** Rewrites a phase's file from what it holds then (null: in memory only). */
    private readonly persist: ((phase: string, change: (now: Correction[]) => Correction[]) => Promise<Correction[]>) | null = null,
  ) {
    for (const [phase, list] of initial) this.replace(phase, list);
  }

  of(phase: string): readonly Correction[] {
    return this.byPhase.get(phase) ?? [];
  }

  ofItem(phase: string, id: string): readonly Correction[] {
    return this.byItem.get(phase)?.get(id) ?? [];
  }

  /** Whether any of these items (a batch's) has a correction. */
  touches(phase: string, items: RefsText): boolean {
    const ids = this.byItem.get(phase);
    return ids !== undefined && decodeRefs(items).some(([id]) => ids.has(id));
  }

  /** Changes a phase's corrections, in its file first (as it is on disk now), then here. */
  async update(phase: string, change: (now: Correction[]) => Correction[]): Promise<readonly Correction[]> {
    const next = this.persist ? await this.persist(phase, change) : change([...this.of(phase)]);
    this.replace(phase, next);
    return next;
  }

  private replace(phase: string, list: readonly Correction[]): void {
    this.revision++;
    this.byPhase.set(phase, [...list]);
    const ids = new Map<string, Correction[]>();
    for (const c of list) ids.set(c.id, [...(ids.get(c.id) ?? []), c]);
    if (ids.size) this.byItem.set(phase, ids);
    else this.byItem.delete(phase);
  }
}

/**
 * A phase's corrections with `c` added: a whole-item correction replaces every earlier one of its item; a
 * pointer correction replaces those at the same place or inside it, and applies after the others.
 */
export function withCorrection(list: readonly Correction[], c: Correction): Correction[] {
  const superseded = (x: Correction): boolean => {
    if (x.id !== c.id) return false;
    if (c.set !== undefined) return true;
    return x.pointer !== undefined && (x.pointer === c.pointer || x.pointer.startsWith(`${c.pointer}/`));
  };
  return [...list.filter((x) => !superseded(x)), c];
}

/** The parent of a JSON pointer ("" for a top-level member) and the member's name, unescaped. */
function splitPointer(pointer: string): [string, string] {
  const i = pointer.lastIndexOf('/');
  return [pointer.slice(0, i), pointer.slice(i + 1).replaceAll('~1', '/').replaceAll('~0', '~')];
}

/** One correction applied to an item (never changed in place): the corrected item, or null when its pointer names no place in it. */
export function applyCorrection(item: Item, c: Correction): Item | null {
  if (c.set !== undefined) return structuredClone(c.set);
  const copy = structuredClone(item);
  const [parentPointer, member] = splitPointer(c.pointer!);
  let parent: unknown;
  try {
    parent = parentPointer === '' ? copy : jsonpointer.get(copy, parentPointer);
  } catch {
    return null;
  }
  if (parent === null || typeof parent !== 'object') return null;
  if (Array.isArray(parent) && member !== '-' && !(/^(0|[1-9]\d*)$/.test(member) && Number(member) <= parent.length)) return null;
  if (member === '__proto__' || member === 'constructor' || member === 'prototype') return null;
  jsonpointer.set(copy, c.pointer!, structuredClone(c.value));
  return copy;
}

/** An item with its corrections applied in order; those whose pointer names no place in it are left out (`conflicts`). */
export function correctItem(item: Item, corrections: readonly Correction[]): { item: Item; applied: Correction[]; conflicts: Correction[] } {
  let out = item;
  const applied: Correction[] = [];
  const conflicts: Correction[] = [];
  for (const c of corrections) {
    const next = applyCorrection(out, c);
    if (next === null) conflicts.push(c);
    else {
      out = next;
      applied.push(c);
    }
  }
  return { item: out, applied, conflicts };
}

/** A batch as its phase shows it: the generated output with its items' corrections applied. */
export interface CorrectedView {
  /** The batch's record as downstream batches, merges and contexts read it: its output and items corrected. */
  record: BatchRecord;
  items: Item[];
  /** The output text (the view's blob, once stored). */
  text: string;
  /** The generated items, as the agent made them. */
  generated: Item[];
  /** Per corrected item: the corrections applied, and those whose pointer names no place in the item now. */
  applied: Map<string, Correction[]>;
  conflicts: Correction[];
}

/**
 * The view of a batch whose items have corrections (null when none has, or its output cannot be read: the
 * engine builds such a batch again when it reads it). The view's output is content-addressed like any
 * batch output (`record.out`: the hash of its text; `put` stores it), its items listed with their hashes.
 */
export async function correctedView(o: {
  record: BatchRecord;
  phase: string;
  corrections: Corrections;
  blobs: BlobStore;
  idField: string;
  /** What phases reading this one as context keep of the items (Decider.contextEntries). */
  entries(items: readonly Item[]): { vocab?: ContextEntries };
}): Promise<CorrectedView | null> {
  if (!o.corrections.touches(o.phase, o.record.items)) return null;
  const text = await o.blobs.get(o.record.out);
  if (text === null) return null;
  const generated = JSON.parse(text) as Item[];
  const applied = new Map<string, Correction[]>();
  const conflicts: Correction[] = [];
  const items = generated.map((it) => {
    const cs = o.corrections.ofItem(o.phase, String(it[o.idField]));
    if (!cs.length) return it;
    const r = correctItem(it, cs);
    if (r.applied.length) applied.set(String(it[o.idField]), r.applied);
    conflicts.push(...r.conflicts);
    return r.item;
  });
  const out = JSON.stringify(items);
  const record: BatchRecord = {
    ...o.record,
    out: hashString(out),
    items: encodeRefs(items.map((it) => [String(it[o.idField]), hashCanonical(it)])),
    ...o.entries(items),
  };
  return { record, items, text: out, generated, applied, conflicts };
}
