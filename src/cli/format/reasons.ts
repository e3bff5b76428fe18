import type { FreshReason, StaleReason } from '../../engine/staleness.js';
import { unreachable } from '../../util/result.js';

/* How the engine's reasons read: stale or fresh, and why (explain, --dry-run, status, the build's lines). */

const LIST_MAX = 8;
function list(ids: string[]): string {
  return ids.length <= LIST_MAX ? ids.join(', ') : `${ids.slice(0, LIST_MAX).join(', ')} and ${ids.length - LIST_MAX} more`;
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
    case 'schema':
      return r.what === 'changed' ? 'the schema changed' : r.what === 'added' ? 'a schema was added' : 'the schema was removed';
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
    case 'run-items': {
      const why = `${r.ids.length} stale item${r.ids.length === 1 ? '' : 's'}: ${r.ids.slice(0, LIST_MAX).join(', ')}${r.ids.length > LIST_MAX ? ', …' : ''}`;
      return r.retry ? `${why} (retry)` : why;
    }
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
    case 'remote':
      return r.taken ? `fresh: taken from the remote cache (built ${r.built} by ${r.host})` : `fresh: from the remote cache, built ${r.built} by ${r.host}`;
    case 'assembled':
      return `fresh: ${r.items === 1 ? 'its item' : `all ${r.items} items`} cached (assembled, no agent run)`;
    default:
      return unreachable(r);
  }
}
