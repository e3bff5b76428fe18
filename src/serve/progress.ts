import type { StampedEvent } from '../events/types.js';
import type { AttemptError } from '../exec/attempts.js';
import { addUsage, cacheShare, emptyTotals, type UsageTotals } from '../exec/runners/usage.js';

/**
 * The dashboard's state of a course: what is recorded (a baseline: snapshot.ts reads it from the store
 * as `cf status` does) with the events of the build that runs now, or ran last, folded over it. Pure data:
 * the server feeds it events (from its own build's bus, or from .cf/events.log) and asks for the design's
 * dashboard JSON (`progress()`), a batch's live state and the failures.
 */

/** A batch's state as the grid colours it. */
export type BatchState = 'fresh' | 'stale' | 'waiting' | 'queued' | 'running' | 'retrying' | 'done' | 'failed' | 'skipped' | 'cancelled' | 'stopped';

export interface BatchCell {
  state: BatchState;
  /** How long its last run took (this build's, else the recorded one). */
  ms?: number;
  /** While it runs: since when (epoch ms), which attempt of how many. */
  since?: number;
  attempt?: number;
  of?: number;
}

export interface Failure {
  target: string;
  phase: string;
  batch: number;
  attempts: number;
  at: string;
  errors: AttemptError[];
}

/** What is recorded now (no build running), per phase and batch. */
export interface Baseline {
  course: string;
  seeds: number;
  batchCount: number;
  phases: Array<{ name: string; output: string }>;
  /** By target (`phase#k`). */
  cells: Map<string, BatchCell>;
  /** What each phase's current batches (and recorded failures) cost. */
  usage: Record<string, UsageTotals>;
  failures: Failure[];
  /** Corrections per phase: how many, and how many were made against an older generation. */
  corrections: Record<string, { count: number; older: number }>;
}

export type BuildStatus = 'idle' | 'running' | 'done' | 'failed' | 'interrupted';

interface Run {
  buildId: string;
  startedAt: string;
  endedAt: string | null;
  status: BuildStatus;
  jobs: number;
  toRun: Set<string>;
  cells: Map<string, BatchCell>;
  usage: Record<string, UsageTotals>;
  failures: Map<string, Failure>;
  /** The errors of attempts rejected in this build (a batch retried, done or not), by target. */
  rejected: Map<string, AttemptError[]>;
}

/** Usage as the dashboard shows it: tokens, dollars and the share of input read from the prompt cache. */
export interface UsageView {
  attempts: number;
  tokensIn: number;
  tokensOut: number;
  costUsd: number;
  cacheShare: number;
}

function usageView(t: UsageTotals): UsageView {
  return { attempts: t.attempts, tokensIn: t.inputTokens + t.cacheWriteTokens + t.cacheReadTokens, tokensOut: t.outputTokens, costUsd: Math.round(t.costUsd * 1e6) / 1e6, cacheShare: Math.round(cacheShare(t) * 1000) / 1000 };
}

function sumTotals(all: UsageTotals[]): UsageTotals {
  const out = emptyTotals();
  for (const t of all) for (const k of Object.keys(out) as Array<keyof UsageTotals>) out[k] += t[k];
  return out;
}

export interface PhaseProgress {
  total: number;
  completed: number;
  failed: number;
  inProgress: number;
  pending: number;
  skipped: number;
  durations: { count: number; totalMs: number; meanMs: number | null; minMs: number | null; maxMs: number | null };
  /** This build's attempts, and what the phase's current outputs cost. */
  usage: { build: UsageView; recorded: UsageView };
  corrections: { count: number; older: number };
}

/** The design's "Batch Progress Dashboard", and the grid the page draws. */
export interface DashboardProgress {
  course: string;
  totalSeeds: number;
  totalBatches: number;
  currentPhase: string | null;
  currentBatch: number | null;
  status: BuildStatus;
  buildId: string | null;
  startedAt: string | null;
  endedAt: string | null;
  elapsedMs: number | null;
  progress: Record<string, PhaseProgress>;
  usage: { build: UsageView; recorded: UsageView };
  /** When the batches left should be done, from the durations of this build's batches so far (null: unknown). */
  estimatedCompletion: string | null;
  estimatedRemainingMs: number | null;
  phases: Array<{ name: string; output: string; batches: Array<{ batch: number } & BatchCell> }>;
  /** The last event folded in: a client's event stream resumes after it (`/api/events?build=…&since=…`). */
  lastEvent: { buildId: string; seq: number } | null;
}

const COMPLETED: ReadonlySet<BatchState> = new Set(['fresh', 'done']);
const IN_PROGRESS: ReadonlySet<BatchState> = new Set(['running', 'retrying']);
const PENDING: ReadonlySet<BatchState> = new Set(['queued', 'stale', 'waiting']);

/** The batch targets a job label names: `legos#3`, or a run packing several batches' items, `legos#3+7`. */
export function targetsOfLabel(label: string): string[] {
  const i = label.lastIndexOf('#');
  if (i < 0) return [label];
  const phase = label.slice(0, i);
  return label
    .slice(i + 1)
    .split('+')
    .map((b) => `${phase}#${b}`);
}

export class ProgressModel {
  private run: Run | null = null;
  private last: { buildId: string; seq: number } | null = null;

  constructor(private baseline: Baseline) {}

  /** What is recorded, read again (after a build, or when the inputs changed). */
  setBaseline(b: Baseline): void {
    this.baseline = b;
  }

  get buildId(): string | null {
    return this.run?.buildId ?? null;
  }

  get running(): boolean {
    return this.run?.status === 'running';
  }

  apply(e: StampedEvent): void {
    this.last = { buildId: e.buildId, seq: e.seq };
    // A build starts with its plan (a rebuild of cf watch too: one bus, a `planned` each), under the lock.
    // Events of another build meanwhile (a second cf waiting for the lock) are not this build's.
    if (e.event === 'planned') this.startRun(e);
    else if (!this.run) return;
    else if (this.run.buildId !== e.buildId) return;
    const r = this.run!;
    const set = (target: string, cell: Partial<BatchCell> & { state: BatchState }): void => {
      const was = r.cells.get(target) ?? this.baseline.cells.get(target);
      r.cells.set(target, { ...(was?.ms !== undefined ? { ms: was.ms } : {}), ...cell });
    };
    const ts = Date.parse(e.ts);
    switch (e.event) {
      case 'planned':
        r.jobs = e.jobs;
        r.toRun = new Set(e.toRun ?? []);
        r.status = 'running';
        break;
      case 'fresh':
        set(e.target, { state: 'fresh' });
        r.failures.delete(e.target);
        break;
      case 'started':
        for (const t of e.packed ?? [e.target]) set(t, { state: 'running', since: ts, attempt: 1 });
        break;
      case 'attempt':
        for (const t of targetsOfLabel(e.target)) {
          const c = r.cells.get(t);
          set(t, { state: e.attempt > 1 ? 'retrying' : 'running', since: c?.since ?? ts, attempt: e.attempt, of: e.of });
        }
        break;
      case 'retried':
        set(e.target, { state: 'retrying', since: r.cells.get(e.target)?.since ?? ts, attempt: e.attempt, of: e.of });
        r.rejected.set(e.target, [...(r.rejected.get(e.target) ?? []), ...e.errors]);
        break;
      case 'ran':
        r.cells.set(e.target, { state: 'done', ms: e.ms });
        r.failures.delete(e.target);
        break;
      case 'failed':
        set(e.target, { state: 'failed' });
        r.failures.set(e.target, { target: e.target, phase: e.phase, batch: e.batch, attempts: e.attempts, at: e.ts, errors: e.errors });
        break;
      case 'skipped':
        set(e.target, { state: 'skipped' });
        break;
      case 'cancelled':
        if (e.target.includes('#')) set(e.target, { state: 'cancelled' });
        break;
      case 'stopped':
        set(e.target, { state: 'stopped' });
        break;
      case 'attempt-done':
        // Every attempt counts, priced or not (a local agent reports no usage), as the build's summary counts them.
        if (e.usage) addUsage((r.usage[e.phase] ??= emptyTotals()), e.usage, e.attempt > 1);
        else (r.usage[e.phase] ??= emptyTotals()).attempts++;
        break;
      case 'summary':
        r.status = e.exitCode === 130 ? 'interrupted' : e.ok ? 'done' : 'failed';
        r.endedAt = e.ts;
        break;
      default:
        break;
    }
  }

  private startRun(e: StampedEvent): void {
    this.run = { buildId: e.buildId, startedAt: e.ts, endedAt: null, status: 'running', jobs: 1, toRun: new Set(), cells: new Map(), usage: {}, failures: new Map(), rejected: new Map() };
  }

  /** A batch's state now: this build's, else queued (this build will run it), else as recorded. */
  cell(target: string): BatchCell | undefined {
    const r = this.run;
    const own = r?.cells.get(target);
    if (own) return own;
    const base = this.baseline.cells.get(target);
    if (r?.status === 'running' && r.toRun.has(target)) return { ...(base?.ms !== undefined ? { ms: base.ms } : {}), state: 'queued' };
    return base;
  }

  /** A batch's errors to show: its failure's, else those of its attempts rejected in this build (null: none). */
  errorsOf(target: string): AttemptError[] | null {
    return this.failures().find((f) => f.target === target)?.errors ?? this.run?.rejected.get(target) ?? null;
  }

  /** Every failure: recorded ones, and this build's (a batch built since is no longer failed). */
  failures(): Failure[] {
    const out = new Map<string, Failure>();
    for (const f of this.baseline.failures) out.set(f.target, f);
    for (const [t, c] of this.run?.cells ?? []) if (c.state === 'fresh' || c.state === 'done') out.delete(t);
    for (const f of this.run?.failures.values() ?? []) out.set(f.target, f);
    return [...out.values()];
  }

  progress(now = Date.now()): DashboardProgress {
    const b = this.baseline;
    const r = this.run;
    const progress: Record<string, PhaseProgress> = {};
    const grid: DashboardProgress['phases'] = [];
    let remaining = 0;
    let known = true;
    let current: { phase: string; batch: number } | null = null;
    const cellsOf = (name: string): Array<{ batch: number } & BatchCell> =>
      Array.from({ length: b.batchCount }, (_, i) => ({ batch: i + 1, ...(this.cell(`${name}#${i + 1}`) ?? { state: 'stale' as const }) }));
    // A phase none of whose batches has run yet is estimated from the others' (this build's, else recorded).
    const every = b.phases.flatMap((p) => cellsOf(p.name));
    const done = every.filter((c) => c.state === 'done' && c.ms !== undefined).map((c) => c.ms!);
    const anyMs = done.length ? done : every.filter((c) => c.ms !== undefined).map((c) => c.ms!);
    const overall = anyMs.length ? anyMs.reduce((x, y) => x + y, 0) / anyMs.length : null;
    for (const phase of b.phases) {
      const cells = cellsOf(phase.name);
      grid.push({ name: phase.name, output: phase.output, batches: cells });
      const count = (set: ReadonlySet<BatchState>): number => cells.filter((c) => set.has(c.state)).length;
      // Durations: of this build's batches; before any ran, the recorded ones (what a batch of it takes).
      const ran = cells.filter((c) => c.state === 'done' && c.ms !== undefined).map((c) => c.ms!);
      const ms = ran.length ? ran : cells.filter((c) => c.ms !== undefined).map((c) => c.ms!);
      const total = ms.reduce((x, y) => x + y, 0);
      const mean = ms.length ? total / ms.length : null;
      progress[phase.name] = {
        total: cells.length,
        completed: count(COMPLETED),
        failed: cells.filter((c) => c.state === 'failed').length,
        inProgress: count(IN_PROGRESS),
        pending: count(PENDING),
        skipped: cells.filter((c) => c.state === 'skipped' || c.state === 'cancelled' || c.state === 'stopped').length,
        durations: { count: ms.length, totalMs: total, meanMs: mean === null ? null : Math.round(mean), minMs: ms.length ? Math.min(...ms) : null, maxMs: ms.length ? Math.max(...ms) : null },
        usage: { build: usageView(r?.usage[phase.name] ?? emptyTotals()), recorded: usageView(b.usage[phase.name] ?? emptyTotals()) },
        corrections: b.corrections[phase.name] ?? { count: 0, older: 0 },
      };
      if (r?.status === 'running') {
        for (const c of cells) {
          if (!current && IN_PROGRESS.has(c.state)) current = { phase: phase.name, batch: c.batch };
          if (!PENDING.has(c.state) && !IN_PROGRESS.has(c.state)) continue;
          const m = mean ?? overall;
          if (m === null) {
            known = false;
            continue;
          }
          // A running batch has its mean left, less what it has run already (a tenth at least: it has not ended).
          remaining += IN_PROGRESS.has(c.state) ? Math.max(m - (now - (c.since ?? now)), m / 10) : m;
        }
      }
    }
    if (r?.status === 'running' && !current) {
      const next = grid.flatMap((p) => p.batches.filter((c) => PENDING.has(c.state)).map((c) => ({ phase: p.name, batch: c.batch })))[0];
      current = next ?? null;
    }
    const running = r?.status === 'running';
    const left = running && known ? Math.round(remaining / Math.max(1, r!.jobs)) : null;
    return {
      course: b.course,
      totalSeeds: b.seeds,
      totalBatches: b.batchCount * b.phases.length,
      currentPhase: current?.phase ?? null,
      currentBatch: current?.batch ?? null,
      status: r?.status ?? 'idle',
      buildId: r?.buildId ?? null,
      startedAt: r?.startedAt ?? null,
      endedAt: r?.endedAt ?? null,
      elapsedMs: r ? (r.endedAt ? Date.parse(r.endedAt) : now) - Date.parse(r.startedAt) : null,
      progress,
      usage: { build: usageView(sumTotals(Object.values(r?.usage ?? {}))), recorded: usageView(sumTotals(Object.values(b.usage))) },
      estimatedCompletion: left === null ? null : new Date(now + left).toISOString(),
      estimatedRemainingMs: left,
      phases: grid,
      lastEvent: this.last,
    };
  }
}
