import type { BatchStatus } from '../../engine/analyze.js';
import { formatFreshReason, formatStaleReason } from './reasons.js';

/** A batch's status in a line: why it is fresh, why it runs, or what it waits for. */
export function describeStatus(s: BatchStatus): string {
  switch (s.kind) {
    case 'fresh':
      return formatFreshReason(s.reason);
    case 'stale':
      return s.reasons.map(formatStaleReason).join('; ');
    case 'pending':
      return `waits for ${s.upstream}; runs only if its output changes`;
  }
}
