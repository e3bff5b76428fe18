import type { BuildEvent } from '../events/types.js';
import { formatRemote } from './format/events.js';
import { formatDuration } from '../util/duration.js';
import { formatUsd } from '../exec/runners/usage.js';
import { describeLockWait } from '../store/lock.js';
import { formatStaleReason } from './format/reasons.js';
import { formatErrorEvent, formatErrors, type Reporter, type ReportSink } from './reporters.js';

/**
 * cf watch without -v or --json: one line per rebuild, what changed and what ran, e.g.
 * "12:00:01 seeds.json changed: ran pairs#2, legos#2 (seed S0025 changed); 2 ran, 4 fresh in 1.2 s",
 * with failures and rejected hand edits below it; input errors as cf prints them.
 */
export class WatchReporter implements Reporter {
  private changed: string[] | null = null;
  /** Why each batch started (a run of several batches' items: each of them). */
  private readonly reasons = new Map<string, string[]>();
  private below: string[] = [];

  constructor(private readonly out: ReportSink = process.stdout) {}

  event(e: BuildEvent): void {
    switch (e.event) {
      case 'changed':
        this.changed = e.files;
        break;
      case 'started':
        for (const t of e.packed ?? [e.target]) this.reasons.set(t, e.why.map(formatStaleReason));
        break;
      case 'failed':
        this.below.push(`  ${e.target} FAILED:\n${formatErrors(e.errors.filter((x) => x.attempt === e.attempts), '    ')}`);
        break;
      case 'edit-rejected':
        this.below.push(`  did not take the hand edit of ${e.output}${e.target ? ` for ${e.target}:\n${formatErrors(e.errors, '    ')}` : `: ${e.reason ?? ''}`}`);
        break;
      case 'error':
        this.print(formatErrorEvent(e));
        break;
      case 'remote-unavailable':
      case 'remote-damaged':
        this.below.push(`  ${formatRemote(e)}`);
        break;
      case 'waiting':
        this.print(`cf watch: ${describeLockWait(e.pid !== undefined ? { pid: e.pid, command: e.command ?? '?', gone: e.gone } : null)}`);
        break;
      case 'summary': {
        const time = new Date().toTimeString().slice(0, 8);
        const what = this.changed === null ? 'initial build' : `${this.changed.length ? this.changed.join(', ') : 'an input'} changed`;
        const counts = [`${e.ran.length} ran`, `${e.fresh.length} fresh${e.remote?.length ? ` (${e.remote.length} from the remote cache)` : ''}`];
        if (e.failed.length) counts.push(`${e.failed.length} failed`);
        if (e.skipped.length) counts.push(`${e.skipped.length} skipped`);
        if (e.cancelled.length) counts.push(`${e.cancelled.length} cancelled (rerun next)`);
        if (e.stopped.length) counts.push(`${e.stopped.length} not started (budget)`);
        // The reasons in the order of the batches they ran for, each once.
        const why = [...new Set(e.ran.flatMap((t) => this.reasons.get(t) ?? []))];
        const reasons = why.length ? ` (${why.slice(0, 3).join('; ')})` : '';
        const ran = e.ran.length ? `: ran ${e.ran.join(', ')}${reasons}` : ': nothing to run';
        if (e.stopped.length && e.maxCost !== undefined) {
          this.below.push(`  --max-cost ${formatUsd(e.maxCost)} reached for this watch session; nothing built was lost (restart cf watch with a higher --max-cost to go on)`);
        }
        this.print([`${time} ${what}${ran}; ${counts.join(', ')} in ${formatDuration(e.ms)}`, ...this.below].join('\n'));
        this.changed = null;
        this.reasons.clear();
        this.below = [];
        break;
      }
      default:
        break;
    }
  }

  note(text: string): void {
    this.print(text);
  }

  close(): void {}

  private print(text: string): void {
    this.out.write(`${text}\n`);
  }
}
