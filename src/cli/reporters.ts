import type { BuildEvent, StampedEvent } from '../events/types.js';
import { eventText, formatBudgetStop, formatMergeReason, formatMergeSkip, formatQueue, formatRemote, formatSkip } from './format/events.js';
import { formatFreshReason, formatStaleReason } from './format/reasons.js';
import { describeLockWait } from '../store/lock.js';
import { describeError, type ValidationError } from '../exec/validate.js';
import { formatDuration } from '../util/duration.js';
import { emptyTotals, formatTotals, formatUsd, reported } from '../exec/runners/usage.js';
import { count } from '../util/plural.js';
import { unreachable } from '../util/result.js';
import { formatUserError } from '../util/errors.js';
import { painter, type Paint } from './colour.js';
import { formatLeft, PhaseEta } from './eta.js';

/** Where a reporter writes: stdout (a test passes a sink of its own). */
export type ReportSink = Pick<NodeJS.WriteStream, 'write'> & { columns?: number };

/** A consumer of build events: NDJSON, human (live on a TTY, plain lines otherwise) or quiet. */
export interface Reporter {
  event(e: BuildEvent): void;
  /** A line that is not an event (dry-run listings, notes); human reporters print it, JSON ones ignore it. */
  note(text: string): void;
  close(): void;
}

/** NDJSON: every event a line, its data and its text fields (eventText), stamped (buildId, seq, ts). */
export class JsonReporter implements Reporter {
  constructor(private readonly out: ReportSink = process.stdout) {}

  event(e: BuildEvent | StampedEvent): void {
    this.out.write(`${JSON.stringify({ ...e, ...eventText(e), ...('ts' in e ? {} : { ts: new Date().toISOString() }) })}
`);
  }
  note(): void {}
  close(): void {}
}

const MAX_ERRORS_SHOWN = 6;

/** The user error an `error` event carries, to print as cf prints any user error. */
export function formatErrorEvent(e: Extract<BuildEvent, { event: 'error' }>): string {
  const { event: _event, ...error } = e;
  return formatUserError(error);
}

export function formatErrors(errors: ValidationError[], indent = '    '): string {
  const shown = errors.slice(0, MAX_ERRORS_SHOWN).map((e) => `${indent}${describeError(e).split('\n')[0]}`);
  if (errors.length > MAX_ERRORS_SHOWN) shown.push(`${indent}… and ${errors.length - MAX_ERRORS_SHOWN} more (cf status)`);
  return shown.join('\n');
}

/** A process holding a -j slot: an agent, or a validator, of a batch or of a run of several batches' items. */
interface Running {
  label: string;
  what: 'agent' | 'validator';
  since: number;
}

/**
 * Progress as people read it: "batch 3/34 of lego_pairs done: 20 items, 12.3 s". On a terminal a status
 * line below the log shows what is running now and the time left of each phase running; in logs and CI
 * only the plain lines are written. Failures and warnings (a batch failed, an attempt rejected, a batch
 * skipped or not built, the shared cache not answering) go to stderr, the rest to stdout; each in colour
 * where its stream takes it (colour.ts decides).
 */
export class HumanReporter implements Reporter {
  /** What holds a slot now (never more than -j), by target or run label. */
  private readonly running = new Map<string, Running>();
  /** The attempt each batch or run is at, when past its first. */
  private readonly attempts = new Map<string, { attempt: number; of: number }>();
  /** cf build --queue: the worker each batch runs on. */
  private readonly workers = new Map<string, string>();
  private total = 0;
  private budgetNoted = false;
  /** Batches not built because an input changed while cf ran. */
  private notBuilt = 0;
  private finished = 0;
  private timer: NodeJS.Timeout | undefined;
  private live: ((text: string) => void) & { clear(): void; done(): void } | undefined;
  private readonly eta = new PhaseEta();
  /** Paint for stdout's lines, and for stderr's. */
  private readonly paint: Paint;
  private readonly paintErr: Paint;

  constructor(
    private readonly opts: { tty: boolean; quiet: boolean; verbose: boolean; colour?: { out: boolean; err: boolean } },
    private readonly out: ReportSink = process.stdout,
    /** Where failures and warnings go (a test may pass `out` again, to read them in order). */
    private readonly err: ReportSink = process.stderr,
  ) {
    this.paint = painter(opts.colour?.out ?? false);
    this.paintErr = painter(opts.colour?.err ?? false);
  }

  async start(): Promise<void> {
    if (!this.opts.tty || this.opts.quiet) return;
    const { createLogUpdate } = await import('log-update');
    this.live = createLogUpdate(this.out as NodeJS.WriteStream);
    this.timer = setInterval(() => this.render(), 1000);
    this.timer.unref();
  }

  private print(line: string, to: ReportSink = this.out): void {
    if (this.live) {
      this.live.clear();
      to.write(`${line}\n`);
      this.render();
    } else {
      to.write(`${line}\n`);
    }
  }

  /** A failure or a warning: on stderr. */
  private warn(line: string): void {
    this.print(line, this.err);
  }

  private render(): void {
    if (!this.live) return;
    this.live(this.statusLine(Date.now()));
  }

  /**
   * The live line: progress, the time left of each phase running (first: a long line is cut at the
   * terminal's width), then what runs now. Empty when nothing runs.
   */
  statusLine(now: number): string {
    if (this.running.size === 0) return '';
    const width = this.out.columns || 80;
    const parts = [...this.running.values()].map((r) => {
      const a = this.attempts.get(r.label);
      const notes = [...(r.what === 'validator' ? ['validating'] : []), ...(a && a.attempt > 1 ? [`attempt ${a.attempt}/${a.of}`] : [])];
      return `${r.label} ${formatDuration(now - r.since)}${notes.length ? ` (${notes.join(', ')})` : ''}`;
    });
    const left = [...this.eta.estimates(now)].map(([phase, ms]) => `${phase} ${formatLeft(ms)}`);
    const line = `[${this.finished}/${this.total}]${left.length ? ` ${left.join(', ')} ·` : ''} running ${parts.join(', ')}`;
    return line.length > width - 1 ? `${line.slice(0, width - 2)}…` : line;
  }

  note(text: string): void {
    if (!this.opts.quiet) this.print(text);
  }

  event(e: BuildEvent): void {
    this.eta.event(e, Date.now());
    const q = this.opts.quiet;
    const p = this.paint;
    const pe = this.paintErr;
    const label = (phase: string, batch: number, count: number): string => `batch ${batch}/${count} of ${phase}`;
    switch (e.event) {
      case 'waiting':
        this.print(`cf: ${describeLockWait(e.pid !== undefined ? { pid: e.pid, command: e.command ?? '?', gone: e.gone } : null)}`);
        break;
      case 'planned':
        this.total = e.stale + e.pending;
        if (!q) {
          const pending = e.pending ? `, ${e.pending} more if upstream output changes` : '';
          const work = e.stale + e.pending === 0 ? 'nothing to do' : `${e.stale} to run${pending} (-j ${e.jobs})`;
          const remote = e.remote ? ` (${e.remote} from the remote cache)` : '';
          this.print(`cf: ${count(e.seeds, 'seed')}, ${count(e.batches, 'batch target')}: ${e.fresh} fresh${remote}, ${work}`);
        }
        break;
      case 'fresh':
        if (this.opts.verbose) this.print(`${e.target}: ${formatFreshReason(e.why)}`);
        break;
      case 'started':
        if (e.packed && !q && !this.live) this.print(`packed ${e.items} stale items of ${e.packed.join(', ')} into one run`);
        if (this.opts.verbose && !q) this.print(`${label(e.phase, e.batch, e.batchCount)} started${e.worker ? ` on ${e.worker}` : ''}: ${e.why.map(formatStaleReason).join('; ')}`);
        else if (e.worker && !q && !this.live) this.print(`${label(e.phase, e.batch, e.batchCount)} started on ${e.worker}`);
        break;
      case 'attempt':
        this.attempts.set(e.target, { attempt: e.attempt, of: e.of });
        if (e.worker) this.workers.set(e.target, e.worker);
        break;
      case 'refused':
        // A warning: the worker's checkout differs from this one (another worker takes the batch).
        this.print(`cf: ${e.worker} refused ${e.target}: ${e.reason}`);
        break;
      case 'queue':
        if (e.down) this.print(`cf: the queue ${e.queue} stopped answering (${e.down}): the batches still out are not recorded; run cf build --queue again once it is back`);
        else if (!q) this.print(`cf: ${formatQueue(e)}`);
        break;
      case 'process':
        if (e.state === 'start') this.running.set(e.target, { label: this.workers.has(e.target) ? `${e.target} on ${this.workers.get(e.target)!}` : e.target, what: e.what, since: Date.now() });
        else this.running.delete(e.target);
        this.render();
        break;
      case 'retried':
        if (!q) {
          // Attempt 0: cached items (items: independent) rejected together; they are made again.
          const rejected = e.attempt > 1 ? `attempt ${e.attempt - 1} rejected` : 'cached items rejected';
          this.warn(`${label(e.phase, e.batch, e.batchCount)}: ${pe('yellow', `${rejected}, retrying`)} (${e.attempt}/${e.of}):\n${formatErrors(e.errors)}`);
        }
        break;
      case 'ran':
        this.finished++;
        if (!q) {
          const attempts = e.attempts > 1 ? `, ${e.attempts} attempts` : '';
          const cached = e.regenerated !== undefined ? ` (${e.regenerated} regenerated, ${e.items - e.regenerated} cached)` : '';
          const warnings = e.warnings ? `, ${e.warnings} warning${e.warnings === 1 ? '' : 's'} (cf explain ${e.target})` : '';
          const on = this.workers.has(e.target) ? ` on ${this.workers.get(e.target)!}` : '';
          this.print(`${label(e.phase, e.batch, e.batchCount)} ${p('green', 'done')}${on}: ${count(e.items, 'item')}${cached}, ${formatDuration(e.ms)}${attempts}${warnings}`);
        }
        break;
      case 'failed':
        this.finished++;
        this.warn(
          `${label(e.phase, e.batch, e.batchCount)} ${pe(['red', 'bold'], 'FAILED')}${e.attempts ? ` after ${e.attempts} attempt${e.attempts === 1 ? '' : 's'}` : ''}:\n${formatErrors(
            e.errors.filter((x) => x.attempt === e.attempts),
          )}`,
        );
        break;
      case 'skipped':
        this.finished++;
        if (!q) this.warn(`${e.target} ${pe('yellow', 'skipped')}: ${formatSkip(e.why)}`);
        break;
      case 'cancelled':
        if (e.because) {
          this.notBuilt++;
          this.warn(`${e.target} ${pe('yellow', 'not built')}: ${e.because}`);
        }
        break;
      case 'stopped':
        if (!this.budgetNoted) {
          this.budgetNoted = true;
          this.warn(`cf: ${formatBudgetStop(e.budget)}; starting no more runs`);
        }
        break;
      case 'changed':
        this.print(`${e.files.length ? e.files.join(', ') : 'an input'} changed`);
        break;
      case 'error':
        this.warn(formatErrorEvent(e));
        break;
      case 'edit-taken':
        this.print(`took the hand edit of ${e.output} as corrections${e.corrections ? ` (${e.corrections})` : ''}: ${e.targets.join(', ')} now show the edited items`);
        break;
      case 'edit-rejected':
        this.warn(
          e.target
            ? `did not take the hand edit of ${e.output} for ${e.target}:\n${formatErrors(e.errors)}`
            : `did not take the hand edit of ${e.output}: ${e.reason}`,
        );
        break;
      case 'merged':
        if (!q) this.print(`wrote ${e.output}: ${count(e.items, 'item')} from ${count(e.batches, 'batch', 'batches')}${e.why.kind === 'edited' || e.why.kind === 'not-ours' ? ` (${formatMergeReason(e.why, e.output)})` : ''}`);
        break;
      case 'merge-fresh':
        if (this.opts.verbose) this.print(`${e.output} is up to date`);
        break;
      case 'merge-skipped':
        this.warn(`${pe('yellow', 'not writing')} ${e.output}: ${formatMergeSkip(e.why)}`);
        break;
      case 'attempt-done':
        break;
      case 'remote-unavailable':
      case 'remote-damaged':
        // A warning: printed even when quiet.
        this.warn(`cf: ${formatRemote(e)}`);
        break;
      case 'remote-published':
        if (!q) this.print(formatRemote(e));
        break;
      case 'leftovers':
        // A warning about the directory, not the build's progress: on stderr.
        if (e.killed) this.err.write(`cf: stopped ${e.killed} process${e.killed === 1 ? '' : 'es'} left running by the cf that died holding this directory's lock (pid ${e.pid}, cf ${e.command})\n`);
        if (e.left.length) this.err.write(`cf: warning: processes left running by the cf that died holding this directory's lock (pid ${e.pid}, cf ${e.command}) do not die: pid ${e.left.join(', ')}\n`);
        break;
      case 'summary': {
        this.running.clear();
        const parts = [`${e.ran.length} ran`, `${e.fresh.length} fresh${e.remote?.length ? ` (${e.remote.length} from the remote cache)` : ''}`];
        if (e.failed.length) parts.push(`${e.failed.length} failed`);
        if (e.skipped.length) parts.push(`${e.skipped.length} skipped`);
        if (e.cancelled.length > this.notBuilt) parts.push(`${e.cancelled.length - this.notBuilt} cancelled`);
        if (this.notBuilt) parts.push(`${this.notBuilt} not built (input changed)`);
        if (e.stopped.length) parts.push(`${e.stopped.length} not started (budget)`);
        const incomplete = !e.failed.length && !e.skipped.length && !e.stopped.length;
        const head = e.exitCode === 130 ? p('yellow', 'cf: interrupted') : e.ok ? p('green', 'cf: done') : incomplete ? p('yellow', 'cf: not done') : p(['red', 'bold'], 'cf: FAILED');
        this.print(`${head}: ${parts.join(', ')} in ${formatDuration(e.ms)}`);
        for (const [phase, t] of Object.entries(e.usage)) if (reported(t)) this.print(`  ${phase}: ${formatTotals(t)}`);
        const phases = Object.values(e.usage).filter(reported);
        if (phases.length > 1) {
          const all = emptyTotals();
          for (const t of phases) for (const k of Object.keys(all) as Array<keyof typeof all>) all[k] += t[k];
          this.print(`  total: ${formatTotals(all)}`);
        }
        if (e.stopped.length) {
          this.print(`  --max-cost ${formatUsd(e.maxCost ?? 0)} reached: ${e.stopped.length} batch${e.stopped.length === 1 ? '' : 'es'} not started; nothing built was lost. Run cf build with a higher --max-cost to go on.`);
        }
        if (this.notBuilt && !e.ok && e.exitCode !== 130) {
          this.print(`  inputs changed while cf was running: nothing was recorded for ${this.notBuilt === 1 ? 'that batch' : 'those batches'}; run cf build again`);
        }
        this.notBuilt = 0;
        if (e.failed.length) {
          this.print(`  failed: ${e.failed.join(', ')}\n  see \`cf status\`, and .cf/runs/PHASE/BATCH/ for each attempt's prompt, output and logs`);
        }
        break;
      }
      default:
        unreachable(e);
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.live) {
      this.live.clear();
      this.live.done();
    }
  }
}
