import type { BuildEvent, MergeReason, MergeSkip, SkipReason } from '../../events/types.js';
import type { BudgetStop } from '../../exec/budget.js';
import { formatUsd } from '../../exec/runners/usage.js';
import { formatFreshReason, formatStaleReason } from './reasons.js';

/* How the build's structured events read (the reporters', and NDJSON's text fields). */

export function formatSkip(why: SkipReason): string {
  return `${why.kind} ${why.target} ${why.was === 'failed' ? 'failed' : 'was skipped'}`;
}

export function formatBudgetStop(b: BudgetStop | string): string {
  if (typeof b === 'string') return b; // a record written before budget stops were data
  return `budget: an attempt of ${b.phase} (about ${formatUsd(b.expectedUsd)}) would exceed --max-cost ${formatUsd(b.maxUsd)} (${formatUsd(b.spentUsd)} spent, ${formatUsd(b.runningUsd)} running)`;
}

export function formatMergeReason(why: MergeReason, output: string): string {
  switch (why.kind) {
    case 'first':
      return 'first merge';
    case 'missing':
      return `${output} was missing`;
    case 'batches-changed':
      return 'batch outputs changed';
    case 'edited':
      return `${output} was edited by hand; the edited copy is kept at ${why.kept}`;
    case 'not-ours':
      return `${output} was not written by cf; it is kept at ${why.kept}`;
  }
}

export function formatMergeSkip(why: MergeSkip): string {
  if (why.kind === 'input-changed') return why.message;
  const n = why.targets.length;
  const names = why.targets.slice(0, 3).join(', ') + (n > 3 ? ` and ${n - 3} more` : '');
  return `${n} batch${n === 1 ? '' : 'es'} not built (${names})`;
}

type RemoteEvent = Extract<BuildEvent, { event: 'remote-unavailable' | 'remote-damaged' | 'remote-published' }>;

/** What the shared cache did, or did not do, in a line. */
export function formatRemote(e: RemoteEvent): string {
  switch (e.event) {
    case 'remote-unavailable':
      return e.op === 'read'
        ? `warning: the remote cache ${e.remote} does not answer: ${e.reason}; building on locally (nothing more is read from it or published to it in this build)`
        : `warning: the remote cache ${e.remote} refused what this build publishes: ${e.reason}; building on without publishing`;
    case 'remote-damaged':
      return `warning: ${e.target} in the remote cache ${e.remote}: ${e.reason}; it is built here`;
    case 'remote-published': {
      const items = e.items ? ` and ${e.items} item${e.items === 1 ? '' : 's'}` : '';
      return `published ${e.batches} batch${e.batches === 1 ? '' : 'es'}${items} to the remote cache ${e.remote}`;
    }
  }
}

/** cf build --queue: where the jobs go and who takes them. */
export function formatQueue(e: Extract<BuildEvent, { event: 'queue' }>): string {
  if (e.down) return `the queue ${e.queue} stopped answering: ${e.down}`;
  const workers = e.workers ?? [];
  if (!workers.length) return `jobs go to the queue ${e.queue}; no worker is connected yet (start cf worker --queue ${e.queue} in a checkout of this project)`;
  return `jobs go to the queue ${e.queue}: ${workers.length} worker${workers.length === 1 ? '' : 's'} connected (${workers.join(', ')})`;
}

/** The text fields an event carries in NDJSON besides its data (as it always has: `reason`, `because`, …). */
export function eventText(e: BuildEvent): Record<string, unknown> {
  switch (e.event) {
    case 'fresh':
      return { reason: formatFreshReason(e.why) };
    case 'started':
      return { reasons: e.why.map(formatStaleReason) };
    case 'skipped':
      return { because: formatSkip(e.why) };
    case 'stopped':
      return { reason: formatBudgetStop(e.budget) };
    case 'merged':
      return { reason: formatMergeReason(e.why, e.output), ...(e.why.kind === 'edited' || e.why.kind === 'not-ours' ? { replaced: e.why.kept } : {}) };
    case 'merge-skipped':
      return { because: formatMergeSkip(e.why) };
    case 'remote-unavailable':
    case 'remote-damaged':
    case 'remote-published':
      return { message: formatRemote(e) };
    case 'queue':
      return { message: formatQueue(e) };
    default:
      return {};
  }
}
