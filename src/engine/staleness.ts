import { decodeRefs, type FileHashes, type Fingerprint } from './fingerprint.js';

/** Why a target must run: recorded at every stale decision, shown by explain, --dry-run, status and events. */
export type StaleReason =
  | { kind: 'never-built' }
  | { kind: 'format' }
  | { kind: 'items'; from: string; changed: string[]; added: string[]; removed: string[]; reordered: boolean }
  | { kind: 'intelligence'; path: string }
  | { kind: 'phase-config' }
  | { kind: 'runner-config' }
  | { kind: 'runner-file'; path: string }
  | { kind: 'validator'; what: 'added' | 'removed' | 'config' | 'file'; path?: string }
  | { kind: 'dep'; path: string }
  /** The item schema (its canonical content) was added, removed or changed. */
  | { kind: 'schema'; what: 'added' | 'removed' | 'changed' }
  /** `what`: the context kind (e.g. vocabulary); `before`, `after`: its size (e.g. words). */
  | { kind: 'context'; what: string; phase: string; before: number; after: number }
  /** items: independent: of a stale batch, the items without a cached output (only they run). */
  | { kind: 'stale-items'; of: number; stale: Array<{ id: string; why: ItemStaleness }> }
  | { kind: 'failed'; attempts: number; at: string }
  /** Built with these very inputs, but the stored output (the blob in .cf/objects) is missing or damaged. */
  | { kind: 'output-missing'; target: string; out: string }
  /** Runs whatever its upstream produces; the upstream batch runs first. */
  | { kind: 'after-upstream'; upstream: string }
  /** items: independent: a run of these stale items (of one or more batches); `retry`: they were rejected before. */
  | { kind: 'run-items'; ids: string[]; retry: boolean };

/** Why one item of an items: independent batch has no cached output. */
export type ItemStaleness = 'new' | 'input' | 'context' | 'settings';

/** Why a target needs no run. */
export type FreshReason =
  | { kind: 'recorded'; at: string }
  | { kind: 'cached'; at: string; target: string }
  /** Built on another machine (`host`, at `built`) and taken from the shared cache: by this build (`taken`), or an earlier one. */
  | { kind: 'remote'; host: string; built: string; taken: boolean }
  /** items: independent: every item's output was cached; the batch was assembled from them and validated. */
  | { kind: 'assembled'; items: number };

function changedFiles(before: FileHashes, after: FileHashes): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((k) => before[k] !== after[k]).sort();
}

/**
 * What differs between the fingerprint a target was last built with and the one it has now.
 * `upstream` names where the items come from: "seeds" or the upstream batch ("pairs#3").
 */
export function diffFingerprints(before: Fingerprint, after: Fingerprint, upstream: string): StaleReason[] {
  if (before.v !== after.v) return [{ kind: 'format' }];
  const reasons: StaleReason[] = [];
  const beforeItems = decodeRefs(before.items);
  const afterItems = decodeRefs(after.items);
  const was = new Map(beforeItems);
  const now = new Map(afterItems);
  const changed = afterItems.filter(([id, h]) => was.has(id) && was.get(id) !== h).map(([id]) => id);
  const added = afterItems.filter(([id]) => !was.has(id)).map(([id]) => id);
  const removed = beforeItems.filter(([id]) => !now.has(id)).map(([id]) => id);
  const common = afterItems.filter(([id]) => was.has(id)).map(([id]) => id);
  const commonBefore = beforeItems.filter(([id]) => now.has(id)).map(([id]) => id);
  const reordered = common.some((id, i) => commonBefore[i] !== id);
  if (changed.length || added.length || removed.length || reordered) {
    reasons.push({ kind: 'items', from: upstream, changed, added, removed, reordered });
  }
  for (const p of changedFiles(before.intelligence, after.intelligence)) reasons.push({ kind: 'intelligence', path: p });
  if (before.phase !== after.phase) reasons.push({ kind: 'phase-config' });
  if (before.runner.config !== after.runner.config) reasons.push({ kind: 'runner-config' });
  for (const p of changedFiles(before.runner.files, after.runner.files)) reasons.push({ kind: 'runner-file', path: p });
  if (!before.validator && after.validator) reasons.push({ kind: 'validator', what: 'added' });
  else if (before.validator && !after.validator) reasons.push({ kind: 'validator', what: 'removed' });
  else if (before.validator && after.validator) {
    if (before.validator.config !== after.validator.config) reasons.push({ kind: 'validator', what: 'config' });
    for (const p of changedFiles(before.validator.files, after.validator.files)) reasons.push({ kind: 'validator', what: 'file', path: p });
  }
  for (const p of changedFiles(before.deps, after.deps)) reasons.push({ kind: 'dep', path: p });
  if (before.schema !== after.schema) reasons.push({ kind: 'schema', what: !before.schema ? 'added' : !after.schema ? 'removed' : 'changed' });
  // A phase has one context, of one kind: its value is the only entry.
  const [kb, cb] = Object.entries(before.context ?? {})[0] ?? [];
  const [ka, ca] = Object.entries(after.context ?? {})[0] ?? [];
  if ((cb?.hash ?? null) !== (ca?.hash ?? null)) {
    reasons.push({ kind: 'context', what: ka ?? kb ?? 'context', phase: ca?.phase ?? cb?.phase ?? '', before: cb?.words ?? 0, after: ca?.words ?? 0 });
  }
  return reasons;
}
