import { unreachable } from '../util/result.js';
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
  /** `what`: the context kind (e.g. vocabulary); `before`, `after`: its size (e.g. words). */
  | { kind: 'context'; what: string; phase: string; before: number; after: number }
  /** items: independent: of a stale batch, the items without a cached output (only they run). */
  | { kind: 'stale-items'; of: number; stale: Array<{ id: string; why: ItemStaleness }> }
  | { kind: 'failed'; attempts: number; at: string }
  /** Built with these very inputs, but the stored output (the blob in .cf/objects) is missing or damaged. */
  | { kind: 'output-missing'; target: string; out: string }
  /** Runs whatever its upstream produces; the upstream batch runs first. */
  | { kind: 'after-upstream'; upstream: string };

/** Why one item of an items: independent batch has no cached output. */
export type ItemStaleness = 'new' | 'input' | 'context' | 'settings';

/** Why a target needs no run. */
export type FreshReason = { kind: 'recorded'; at: string } | { kind: 'cached'; at: string; target: string };

function changedFiles(before: FileHashes, after: FileHashes): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((k) => before[k] !== after[k]).sort();
}

const LIST_MAX = 8;
function list(ids: string[]): string {
  return ids.length <= LIST_MAX ? ids.join(', ') : `${ids.slice(0, LIST_MAX).join(', ')} and ${ids.length - LIST_MAX} more`;
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
  // A phase has one context, of one kind: its value is the only entry.
  const [kb, cb] = Object.entries(before.context ?? {})[0] ?? [];
  const [ka, ca] = Object.entries(after.context ?? {})[0] ?? [];
  if ((cb?.hash ?? null) !== (ca?.hash ?? null)) {
    reasons.push({ kind: 'context', what: ka ?? kb ?? 'context', phase: ca?.phase ?? cb?.phase ?? '', before: cb?.words ?? 0, after: ca?.words ?? 0 });
  }
  return reasons;
}

export function formatStaleReason(r: StaleReason): string {
  switch (r.kind) {
    case 'never-built':
      return 'never built';
    case 'format':
      return 'built by an older cf (key format changed)';
    case 'items': {
      const parts: string[] = [];
      const what = r.from === 'seeds' ? 'seed' : 'item';
      if (r.changed.length) parts.push(`${r.changed.length === 1 ? what : `${what}s`} ${list(r.changed)} changed`);
      if (r.added.length) parts.push(`${list(r.added)} added`);
      if (r.removed.length) parts.push(`${list(r.removed)} removed`);
      if (r.reordered) parts.push('items reordered');
      const text = parts.join('; ');
      return r.from === 'seeds' ? text : `upstream ${r.from} output changed (${text})`;
    }
    case 'intelligence':
      return `intelligence ${r.path} changed`;
    case 'phase-config':
      return 'phase config changed';
    case 'runner-config':
      return 'runner config changed';
    case 'runner-file':
      return `runner file ${r.path} changed`;
    case 'validator':
      return r.what === 'file' ? `validator file ${r.path} changed` : r.what === 'config' ? 'validator changed' : `validator ${r.what}`;
    case 'dep':
      return `dependency ${r.path} changed`;
    case 'stale-items': {
      if (r.stale.length === 0) return `0 of ${r.of} items stale: every item's output is cached (no agent run)`;
      const why = { new: 'new', input: 'input changed', context: 'context changed', settings: 'phase settings changed' } as const;
      const shown = r.stale.slice(0, LIST_MAX).map((x) => `${x.id} (${why[x.why]})`);
      const more = r.stale.length > LIST_MAX ? `, and ${r.stale.length - LIST_MAX} more` : '';
      return `${r.stale.length} of ${r.of} items stale: ${shown.join(', ')}${more}`;
    }
    case 'context':
      return r.before === r.after
        ? `the ${r.what} taught before it (from ${r.phase}) changed`
        : `the ${r.what} taught before it (from ${r.phase}) changed: ${r.before} → ${r.after} words`;
    case 'failed':
      return `failed after ${r.attempts} attempt${r.attempts === 1 ? '' : 's'} at ${r.at}`;
    case 'after-upstream':
      return `runs after ${r.upstream}`;
    case 'output-missing':
      return `the stored output of ${r.target} (${r.out}) is missing from .cf/objects or damaged`;
    default:
      return unreachable(r);
  }
}

export function formatFreshReason(r: FreshReason): string {
  switch (r.kind) {
    case 'recorded':
      return `fresh: inputs unchanged since ${r.at}`;
    case 'cached':
      return `fresh: same inputs as a run of ${r.target} at ${r.at} (output reused)`;
    default:
      return unreachable(r);
  }
}
