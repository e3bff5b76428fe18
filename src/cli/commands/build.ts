import { storeLayout } from '../../store/layout.js';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { mark } from '../../util/timing.js';
import { spawner } from '../../exec/processes/spawner.js';
import { Analysis, type BatchStatus } from '../../engine/analyze.js';
import { Budget } from '../../exec/budget.js';
import { Engine } from '../../engine/engine.js';
import type { BuildSummary } from '../../events/types.js';
import type { Decider } from '../../engine/decide.js';
import { takeHandEdits } from '../../engine/handEdits.js';
import { fail, type UserError } from '../../util/errors.js';
import { emptySeedsError } from '../../engine/emptySeeds.js';
import { unstartableCommand } from '../../config/commandCheck.js';
import type { BuildEvent } from '../../events/types.js';
import { acquireLock } from '../../store/lock.js';
import type { OutputStore } from '../../store/outputs.js';
import type { PhaseConfig } from '../../config/pipeline.js';
import type { FileStamp } from '../../store/records.js';
import type { LocalStore } from '../../store/localStore.js';
import { formatFreshReason, formatStaleReason } from '../../engine/staleness.js';
import type { Request } from '../../engine/targets.js';
import { createRunner } from '../../exec/runners/index.js';
import type { BatchExecutor } from '../../exec/executor.js';
import { onInterrupt } from '../interrupt.js';
import type { GlobalOptions } from '../main.js';
import { STATE_FORMAT } from '../../version.js';
import { clearNoopStamp, writeNoopStamp } from '../noop.js';
import { HumanReporter, JsonReporter, type Reporter } from '../reporters.js';
import { localExecutor, openStore, outputStore, readIntelligence, removeStaleTemporariesOf, requireInputs, watchedFiles, type Inputs } from '../../app/session.js';

export async function makeReporter(opts: GlobalOptions): Promise<Reporter> {
  if (opts.json) return new JsonReporter();
  const r = new HumanReporter({ tty: Boolean(process.stdout.isTTY) && !process.env.CI, quiet: opts.quiet, verbose: opts.verbose });
  await r.start();
  return r;
}

export async function buildCommand(opts: GlobalOptions, names: string[]): Promise<number> {
  const { inputs, requests } = await requireInputs(opts.dir, names);
  if (opts.dryRun) return dryRun(opts, inputs, requests);
  const unpriced = opts.maxCost !== null ? unpricedRunner(inputs, requests) : null;
  if (unpriced) fail(unpriced);
  if (inputs.graph.seedCount === 0 && !opts.allowEmptySeeds) {
    const empty = emptySeedsError(inputs.graph, await openStore(opts.dir, true), requests);
    if (empty) fail(empty);
  }

  const reporter = await makeReporter(opts);
  const interrupt = onInterrupt(() =>
    reporter.note('cf: interrupted: stopping running agents (nothing half-done is recorded); Ctrl-C again to quit at once'),
  );
  const started = Date.now();
  let summary: BuildSummary | null = null;
  // The merged outputs as their merge records know them (path → stat and hash), for the no-op stamp.
  const outputs = new Map<string, FileStamp>();
  try {
    const lock = await acquireLock(
      opts.dir,
      'build',
      (owner) => reporter.event({ event: 'waiting', reason: 'lock', ...(owner ? { pid: owner.pid, command: owner.command, since: owner.since, ...(owner.gone ? { gone: true } : {}) } : {}) }),
      interrupt.signal,
    ).catch((e: unknown) => {
      if (interrupt.signal.aborted) return null;
      throw e;
    });
    if (lock) {
      try {
        summary = await runBuild(opts, inputs, requests, reporter.event.bind(reporter), interrupt.signal, outputs);
      } finally {
        await lock.release();
      }
    }
  } catch (e) {
    // A config error found once the state was read (an agent that cannot start): no summary, exit 2.
    reporter.close();
    await clearNoopStamp(opts.dir);
    throw e;
  } finally {
    interrupt.dispose();
  }
  const s: BuildSummary = summary ?? { ran: [], fresh: [], failed: [], skipped: [], merged: [], cancelled: [], stopped: [], usage: {} };
  // Cancelled without Ctrl-C: an input changed while cf ran; those batches are not built (exit 1, not done).
  const exitCode = interrupt.signal.aborted ? 130 : s.failed.length || s.skipped.length || s.stopped.length || s.cancelled.length ? 1 : 0;
  reporter.event({ event: 'summary', ok: exitCode === 0, exitCode, ms: Date.now() - started, ...s, ...(opts.maxCost !== null ? { maxCost: opts.maxCost } : {}) });
  reporter.close();
  // Everything asked for is up to date: stamp it, so that the next unchanged build answers at once.
  if (exitCode === 0 && !s.cancelled.length) {
    const files = watchedFiles(inputs.pipeline).map((f) => path.relative(opts.dir, f));
    // Content hashes cf already has: the stat cache's for inputs, the merge records' for outputs.
    const hashOf = (file: string, stat: { size: number; mtimeNs: string; ino: number }): string | null => {
      const out = outputs.get(file);
      if (out) return out.size === stat.size && out.mtimeNs === stat.mtimeNs && out.ino === stat.ino ? out.hash : null;
      return inputs.cache.knownHash(path.resolve(opts.dir, file), stat) ?? null;
    };
    // cf's own files: the state log, and the stored outputs' directories (a stored output deleted makes its
    // batch stale: that must not be answered from the stamp).
    const paths = storeLayout(opts.dir);
    const own = [paths.log, ...(await readdir(paths.objects).catch(() => [] as string[])).map((d) => path.join(paths.objects, d))];
    await writeNoopStamp(opts.dir, names, STATE_FORMAT, files, own.map((f) => path.relative(opts.dir, f)), [...s.ran, ...s.fresh].sort(), hashOf);
  } else {
    await clearNoopStamp(opts.dir);
  }
  return exitCode;
}

/** --max-cost needs runners that say what their runs cost: the first phase whose runner does not, as an error. */
export function unpricedRunner(inputs: Inputs, requests: Request[]): UserError | null {
  for (const phase of new Set(closure(inputs, requests).map((x) => x.phase))) {
    const runner = createRunner(inputs.pipeline.runners.get(phase.runner)!, inputs.pipeline);
    if (!runner.priced) {
      return {
        kind: 'usage',
        message: `--max-cost: runner "${phase.runner}" (phase ${phase.name}) does not report what its runs cost`,
        hint: 'budgets work with kind: anthropic or openai (with a price for the model), or preset: claude-code',
      };
    }
  }
  return null;
}

/**
 * The engine for one build over these inputs and state: runners and validators made once per build,
 * attempts' files under .cf/runs, the budget told what earlier batches cost. (cf build and cf watch.)
 */
export function createEngine(o: {
  opts: Pick<GlobalOptions, 'dir' | 'jobs' | 'maxCost'>;
  inputs: Inputs;
  state: LocalStore;
  emit: (e: BuildEvent) => void;
  signal: AbortSignal;
  drain?: AbortSignal;
  /** Where merged outputs are written (cf watch wraps it to know its own writes). */
  outputs?: OutputStore;
  /** The --max-cost budget, when it spans more than this build (cf watch: the whole session). */
  budget?: Budget;
}): Engine {
  const { pipeline } = o.inputs;
  const paths = storeLayout(o.opts.dir);
  const budget = o.budget ?? new Budget(o.opts.maxCost);
  for (const t of o.state.targets()) {
    const phase = t.split('#')[0]!;
    for (const u of o.state.lastSuccess(t)?.usage ?? []) if (u.costUsd !== null) budget.learn(phase, u.costUsd);
  }
  const jobs = o.opts.jobs ?? pipeline.jobs;
  const { executor, runnerFor } = localExecutor(o.inputs, { jobs, budget });
  return new Engine({
    decider: o.inputs.decider(o.state),
    executor,
    outputs: o.outputs ?? outputStore(o.opts.dir),
    intelligence: (phase: PhaseConfig) => readIntelligence(pipeline, phase.intelligence),
    runDir: (phase, batch) => path.join(paths.runs, phase.name, String(batch)),
    jobs,
    // A runner that gathers its requests (a Message Batch) gets every stale batch at once.
    unstaged: (phase) => runnerFor(phase).pooled === false,
    emit: o.emit,
    signal: o.signal,
    ...(o.drain ? { drain: o.drain } : {}),
  });
}

/**
 * A build of thousands of batches makes garbage steadily for minutes, and V8 lets the heap grow well past
 * what is live before it collects (300 MB more at 100,000 seeds). From LEAN_AT batches on, V8 is told to
 * favour size: peak memory falls by about a third, for a little more time in the collector, which a
 * one-seed edit (where start-up time is what counts) does not pay. Even so, objects that outlive two young
 * collections while their batch waits or runs pile up in the old heap: at 20,000 seeds the live heap stays
 * near 40 MB while the heap grew to 110 MB before V8 collected it, so the peak depended on when that came
 * (131 to 176 MB over six rebuilds). A full collection every COLLECTIONS-th of the batches planned (every
 * 250 at least) bounds it (130 to 145 MB): a dozen collections a build, for a few ms each at 20,000 seeds
 * and tens of ms at 100,000, against minutes of agent runs.
 */
const LEAN_AT = 500;
const COLLECTIONS = 12;
/** Batches planned from which a build starts the spawner at once (see spawner.ts). */
const SPAWNER_AT = 8;
function leanHeapFor(batches: number): (() => void) | null {
  if (batches < LEAN_AT) return null;
  v8.setFlagsFromString('--optimize-for-size');
  v8.setFlagsFromString('--expose-gc');
  // With --expose-gc set, a new context has gc(); this process's own global is not changed.
  const gc = vm.runInNewContext('gc') as () => void;
  const every = Math.max(250, Math.ceil(batches / COLLECTIONS));
  let ran = 0;
  return () => {
    if (++ran % every === 0) gc();
  };
}

export async function finishBuild(inputs: Inputs, state: LocalStore): Promise<void> {
  await inputs.cache.save();
  await state.finish();
  state.close();
}

async function runBuild(
  opts: GlobalOptions,
  inputs: Inputs,
  requests: Request[],
  emit: (e: BuildEvent) => void,
  signal: AbortSignal,
  outputs?: Map<string, FileStamp>,
): Promise<BuildSummary> {
  await removeStaleTemporariesOf(inputs.pipeline);
  const state = await openStore(opts.dir, false);
  mark('state read');
  const engine = createEngine({ opts, inputs, state, emit, signal });
  try {
    await takeEdits(inputs, engine.decider, engine.executor, emit, signal);
    mark('edits taken');
    await engine.plan(requests);
    mark('planned');
    // An agent or validator that cannot start is a config error before anything runs, not a batch that
    // fails each of its attempts.
    const unstartable = unstartableCommand(inputs.pipeline, engine.phasesToRun);
    if (unstartable) fail(unstartable);
    const collect = leanHeapFor(engine.planned);
    if (collect) engine.onBatchDone = collect;
    // Many agent runs to start: the spawner (a helper process) forks them, not cf. A few are forked directly,
    // without paying for the helper's start (a one-seed edit: three agents and three validators).
    if (engine.planned >= SPAWNER_AT) spawner.prestart();
    return await engine.run(requests);
  } finally {
    mark('built');
    for (const phase of inputs.pipeline.phases) {
      const m = state.merge(phase.name);
      if (m) outputs?.set(m.path, m.file);
    }
    await finishBuild(inputs, state);
    mark('state saved');
  }
}

/** Hand edits of merged outputs become batch outputs before anything is decided (see handEdits.ts). */
export async function takeEdits(inputs: Inputs, decider: Decider, executor: BatchExecutor, emit: (e: BuildEvent) => void, signal: AbortSignal, outputs?: OutputStore): Promise<void> {
  const reports = await takeHandEdits({
    decider,
    outputs: outputs ?? outputStore(inputs.pipeline.dir),
    phases: inputs.graph.phases,
    executor,
    runDir: (phase, batch) => path.join(storeLayout(inputs.pipeline.dir).runs, phase.name, String(batch), 'edit'),
    signal,
  });
  for (const r of reports) {
    if (r.taken.length) emit({ event: 'edit-taken', phase: r.phase, output: r.output, targets: r.taken });
    if (r.unreadable) emit({ event: 'edit-rejected', phase: r.phase, output: r.output, errors: [], reason: r.unreadable });
    for (const x of r.rejected) emit({ event: 'edit-rejected', phase: r.phase, output: r.output, target: x.target, errors: x.errors });
  }
}

/** The batches a request needs, upstream chains included, in pipeline order. */
export function closure(inputs: Inputs, requests: Request[]): Array<{ phase: PhaseConfig; batch: number }> {
  const want = new Map<string, Set<number>>();
  const add = (phase: PhaseConfig, batch: number): void => {
    const s = want.get(phase.name) ?? new Set<number>();
    if (s.has(batch)) return;
    s.add(batch);
    want.set(phase.name, s);
    const up = inputs.graph.upstream(phase);
    if (up) add(up, batch);
  };
  for (const r of requests) for (const b of r.batches) add(inputs.graph.phase(r.phase), b);
  const out: Array<{ phase: PhaseConfig; batch: number }> = [];
  for (const phase of inputs.graph.phases) for (const b of [...(want.get(phase.name) ?? [])].sort((a, c) => a - c)) out.push({ phase, batch: b });
  return out;
}

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

async function dryRun(opts: GlobalOptions, inputs: Inputs, requests: Request[]): Promise<number> {
  const state = await openStore(opts.dir, true);
  const analysis = new Analysis(inputs.decider(state));
  const outputs = outputStore(opts.dir);
  const rows = await Promise.all(closure(inputs, requests).map(({ phase, batch }) => analysis.batch(phase, batch)));
  const merges = [];
  for (const r of requests) if (r.merge) merges.push(await analysis.merge(inputs.graph.phase(r.phase), outputs));
  const wouldRun = rows.filter((s) => s.kind === 'stale' && !s.reassemble);
  const reassemble = rows.filter((s) => s.kind === 'stale' && s.reassemble);
  /** A reassembled batch's reasons, without the "0 of N items stale" its line already says. */
  const besidesItems = (s: BatchStatus): string =>
    s.kind === 'stale' ? s.reasons.filter((r) => r.kind !== 'stale-items').map(formatStaleReason).join('; ') : describeStatus(s);
  const mayRun = rows.filter((s) => s.kind === 'pending');
  const fresh = rows.filter((s) => s.kind === 'fresh');
  const writes = merges.filter((m) => m.kind !== 'fresh');
  if (opts.json) {
    const line = (o: object): boolean => process.stdout.write(`${JSON.stringify(o)}\n`);
    for (const s of rows) {
      if (s.kind === 'stale') line({ event: s.reassemble ? 'would-reassemble' : 'would-run', target: s.target, reasons: s.reasons.map(formatStaleReason) });
      else if (s.kind === 'pending') line({ event: 'may-run', target: s.target, upstream: s.upstream });
      else line({ event: 'fresh', target: s.target, reason: formatFreshReason(s.reason) });
    }
    for (const m of merges) line({ event: m.kind === 'fresh' ? 'merge-fresh' : 'would-write', output: m.output, ...('reason' in m ? { reason: m.reason } : {}) });
    line({
      event: 'summary',
      dryRun: true,
      wouldRun: wouldRun.map((s) => s.target),
      wouldReassemble: reassemble.map((s) => s.target),
      mayRun: mayRun.map((s) => s.target),
      fresh: fresh.map((s) => s.target),
      wouldWrite: writes.map((m) => m.output),
    });
    return 0;
  }
  const out = (t: string): boolean => process.stdout.write(`${t}\n`);
  for (const s of rows) {
    if (s.kind === 'stale' && s.reassemble) {
      const why = besidesItems(s);
      out(`would reassemble ${s.target} from cached items (no agent run)${why ? `: ${why}` : ''}`);
    } else if (s.kind === 'stale') out(`would run  ${s.target}: ${describeStatus(s)}`);
    else if (s.kind === 'pending') out(`may run    ${s.target}: ${describeStatus(s)}`);
    else if (opts.verbose) out(`fresh      ${s.target}: ${describeStatus(s)}`);
  }
  for (const m of writes) out(`would write ${m.output}: ${m.reason}`);
  out(
    `cf: dry run: ${wouldRun.length} would run, ${reassemble.length ? `${reassemble.length} would reassemble from cached items (no agent run), ` : ''}${mayRun.length} may run (if upstream output changes), ${fresh.length} fresh; ${writes.length} output${writes.length === 1 ? '' : 's'} to write; nothing was run`,
  );
  return 0;
}
