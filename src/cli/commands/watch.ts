import { mkdir } from 'node:fs/promises';
import { spawner } from '../../exec/processes/spawner.js';
import path from 'node:path';
import { Budget } from '../../exec/budget.js';
import type { Engine } from '../../engine/engine.js';
import type { BuildSummary } from '../../events/types.js';
import { notReadySeeds } from '../../engine/emptySeeds.js';
import { unstartableCommand } from '../../config/commandCheck.js';
import type { BuildEvent } from '../../events/types.js';
import { acquireLock, describeLockWait } from '../../store/lock.js';
import { loadPipeline } from '../../config/loadPipeline.js';
import { PIPELINE_FILE, type Pipeline } from '../../config/pipeline.js';
import { SeedsChanged } from '../../config/seeds.js';
import type { LocalStore } from '../../store/localStore.js';
import { resolveTargets, type Request } from '../../engine/targets.js';
import { fail, type UserError } from '../../util/errors.js';
import type { Result } from '../../util/result.js';
import { onInterrupt } from '../interrupt.js';
import type { WatchOptions } from '../main.js';
import { OwnWrites } from '../ownWrites.js';
import { HumanReporter, JsonReporter, type Reporter } from '../reporters.js';
import { loadInputs, openStore, outputStore, removeStaleTemporariesOf, watchedFiles, type Inputs } from '../../app/session.js';
import { WatchedFiles } from '../watchFiles.js';
import { WatchReporter } from '../watchReporter.js';
import { createEngine, finishBuild, takeEdits, unpricedRunner } from './build.js';

/** Editor saves come in bursts (write, rename, chmod): events this close together are one change. */
const DEBOUNCE_MS = Number(process.env.CF_WATCH_DEBOUNCE_MS) || 40;

interface Current {
  engine: Engine;
  drain: AbortController;
  state: LocalStore;
}

/**
 * What a rebuild did. `built` false: the inputs could not be built from (reported; the files that changed
 * carry over to the next rebuild). `inputChanged`: batches not built because an input changed under them.
 */
interface Outcome {
  built: boolean;
  inputChanged: number;
}

/**
 * `cf watch`: builds, then rebuilds what a change affects on every save. A change during a build stops
 * new batches from starting, cancels the running batches whose inputs changed (their process trees are
 * killed, nothing is recorded), lets the others finish, and builds again with the new inputs. Input it
 * cannot build from (a broken pipeline.yaml or seeds file, a save caught half-written, a target gone) is
 * reported and the watch goes on; --max-cost spans the whole session.
 */
export async function watchCommand(opts: WatchOptions, names: string[]): Promise<number> {
  const first = await loadInputs(opts.dir);
  if (!first.ok) fail(first.error);
  let good: Inputs = first.value;
  const resolved = resolveTargets(good.graph, names);
  if (!resolved.ok) fail(resolved.error);
  const unpriced = opts.maxCost !== null ? unpricedRunner(good, resolved.value) : null;
  if (unpriced) fail(unpriced);

  const reporter: Reporter = opts.json
    ? new JsonReporter()
    : opts.verbose
      ? new HumanReporter({ tty: false, quiet: false, verbose: true })
      : new WatchReporter();
  const emit = (e: BuildEvent): void => reporter.event(e);
  const interrupt = onInterrupt(() => reporter.note('cf watch: stopping agents… Ctrl-C again to quit now'));
  spawner.prestart();
  const budget = new Budget(opts.maxCost);
  const own = new OwnWrites(opts.dir);
  const outputs = own.wrap(outputStore(opts.dir));
  const pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let current: Current | null = null;
  let wake: (() => void) | null = null;
  /** The state and stat cache stay in memory between rebuilds (re-read when another cf changed the log). */
  let lastState: LocalStore | null = null;
  let lastLogSize: number | null = null;
  const cache = good.cache;

  /** The inputs after a change: pipeline.yaml reread when it changed (the last good one kept if it is broken). */
  const reload = async (changed: string[]): Promise<{ inputs: Result<Inputs, UserError>; pipelineError: UserError | null }> => {
    let pipeline = good.pipeline;
    let pipelineError: UserError | null = null;
    if (changed.includes(path.resolve(opts.dir, PIPELINE_FILE))) {
      const p = await loadPipeline(opts.dir);
      if (p.ok) pipeline = p.value;
      else pipelineError = p.error;
    }
    return { inputs: await loadInputs(opts.dir, pipeline, cache), pipelineError };
  };

  /** Mid-build: start nothing new; cancel the running batches whose inputs changed (none while the inputs are not ready). */
  const stopAffected = async (c: Current): Promise<void> => {
    c.drain.abort();
    const next = (await reload([...pending])).inputs;
    if (!next.ok || (!opts.allowEmptySeeds && notReadySeeds(next.value.graph))) return;
    c.engine.cancelOutdated(next.value.decider(c.state));
  };

  /** (Re)arms the debounce: a burst of events is one rebuild. */
  const settle = (): void => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      if (current) void stopAffected(current);
      wake?.();
    }, DEBOUNCE_MS);
  };

  /** Reported, nothing built: the watch waits for the next change. */
  const refuse = (error: UserError): Outcome => {
    emit({ event: 'error', ...error });
    reporter.note('cf watch: nothing built; waiting for the next change');
    return { built: false, inputChanged: 0 };
  };

  /** One rebuild: `changed` null for the first build. */
  const rebuild = async (changed: string[] | null): Promise<Outcome> => {
    const started = Date.now();
    let next = good;
    if (changed !== null) {
      emit({ event: 'changed', files: changed.map((f) => path.relative(opts.dir, f)) });
      const r = await reload(changed);
      if (r.pipelineError) {
        emit({ event: 'error', ...r.pipelineError });
        reporter.note(`cf watch: keeps watching with the last good ${PIPELINE_FILE}`);
      }
      if (!r.inputs.ok) return refuse(r.inputs.error);
      next = r.inputs.value;
    }
    const notReady = opts.allowEmptySeeds ? null : notReadySeeds(next.graph);
    if (notReady) return refuse(notReady);
    good = next;
    await makeOutputDirs(good.pipeline);
    files.add(watchedFiles(good.pipeline));
    const resolvedNow = resolveTargets(good.graph, names);
    if (!resolvedNow.ok) return refuse(resolvedNow.error);
    const requests: Request[] = resolvedNow.value;
    const unpricedNow = opts.maxCost !== null ? unpricedRunner(good, requests) : null;
    if (unpricedNow) return refuse(unpricedNow);

    const lock = await acquireLock(opts.dir, 'watch', (o) => reporter.note(`cf watch: ${describeLockWait(o)}`), interrupt.signal).catch(() => null);
    if (!lock) return { built: false, inputChanged: 0 };
    let summary: BuildSummary | null = null;
    let inputChanged = 0;
    const count = (e: BuildEvent): void => {
      if (e.event === 'cancelled' && e.because) inputChanged++;
      emit(e);
    };
    try {
      await removeStaleTemporariesOf(good.pipeline);
      const reuse = lastState !== null && lastState.logSize === lastLogSize;
      const state = reuse ? lastState! : await openStore(opts.dir, false);
      const drain = new AbortController();
      const engine = createEngine({ opts, inputs: good, state, emit: count, signal: interrupt.signal, drain: drain.signal, outputs, budget });
      current = { engine, drain, state };
      // Changes seen while the inputs were being read: this build may already be out of date.
      if (pending.size && !timer) void stopAffected(current);
      try {
        await takeEdits(good, engine.decider, engine.executor, count, interrupt.signal, outputs);
        await engine.plan(requests);
        const unstartable = unstartableCommand(good.pipeline, engine.phasesToRun);
        if (unstartable) return refuse(unstartable);
        summary = await engine.run(requests);
      } catch (e) {
        // A hand edit is checked against the seeds, read then: a save caught half-written is not ready.
        if (!(e instanceof SeedsChanged)) throw e;
        return refuse({ kind: 'seeds', file: good.pipeline.seeds, message: e.message });
      } finally {
        current = null;
        await finishBuild(good, state);
        lastState = state;
        lastLogSize = state.logSize;
      }
    } finally {
      await lock.release();
      files.add([]);
    }
    const s: BuildSummary = summary ?? { ran: [], fresh: [], failed: [], skipped: [], merged: [], cancelled: [], stopped: [], usage: {} };
    const exitCode = interrupt.signal.aborted ? 130 : s.failed.length || s.skipped.length || s.stopped.length ? 1 : 0;
    emit({ event: 'summary', ok: exitCode === 0, exitCode, ms: Date.now() - started, ...s, ...(opts.maxCost !== null ? { maxCost: opts.maxCost } : {}) });
    return { built: true, inputChanged };
  };

  const idle = (): Promise<void> =>
    new Promise<void>((resolve) => {
      const done = (): void => {
        interrupt.signal.removeEventListener('abort', done);
        wake = null;
        resolve();
      };
      wake = done;
      interrupt.signal.addEventListener('abort', done, { once: true });
    });

  await makeOutputDirs(good.pipeline);
  const files = await WatchedFiles.start(watchedFiles(good.pipeline), (file) => {
    void own.isOwn(file).then((mine) => {
      if (mine) return;
      pending.add(file);
      settle();
    });
  });

  reporter.note(`cf watch: watching ${files.size} files; Ctrl-C to stop`);
  let changed: string[] | null = null;
  let poked = false;
  for (;;) {
    const outcome = await rebuild(changed);
    if (interrupt.signal.aborted) break;
    // Files changed while nothing could be built stay in the next rebuild (a pipeline.yaml edit is applied then).
    const carried: string[] = outcome.built ? [] : (changed ?? []);
    // Batches cancelled because an input changed under them are built again once the change settles. Its
    // file event does that; when none is on its way (a damaged stored output), go again, once.
    poked = outcome.inputChanged > 0 && !pending.size && !timer && !poked;
    if (poked) settle();
    if (!pending.size || timer) await idle();
    if (interrupt.signal.aborted) break;
    changed = [...new Set([...carried, ...pending])];
    pending.clear();
  }
  if (timer) clearTimeout(timer);
  await files.close();
  interrupt.dispose();
  reporter.note('cf watch: stopped');
  reporter.close();
  return 130;
}

/**
 * The merged outputs' directories, made before they are watched: a directory the first merge creates would
 * be watched only some time after it, and a hand edit made at once could go unseen until the next change.
 */
async function makeOutputDirs(p: Pipeline): Promise<void> {
  for (const phase of p.phases) await mkdir(path.dirname(path.resolve(p.dir, phase.output)), { recursive: true });
}
