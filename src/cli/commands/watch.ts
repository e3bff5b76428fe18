import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { exitCodeOf } from '../../app/exitCode.js';
import { outputStore, watchedFiles } from '../../app/inputs.js';
import { Workspace } from '../../app/workspace.js';
import { loadPipeline } from '../../config/loadPipeline.js';
import { PIPELINE_FILE, type Pipeline } from '../../config/pipeline.js';
import { SeedsChanged } from '../../config/seeds.js';
import { notReadySeeds } from '../../engine/emptySeeds.js';
import type { Engine } from '../../engine/engine.js';
import type { Request } from '../../engine/targets.js';
import { EventBus } from '../../events/bus.js';
import { EventLogWriter } from '../../events/eventLog.js';
import { storeLayout } from '../../store/layout.js';
import type { BuildEvent } from '../../events/types.js';
import { Budget } from '../../exec/budget.js';
import { noteUncontained } from '../../exec/processes/processes.js';
import { spawner } from '../../exec/processes/spawner.js';
import type { OpenedStore } from '../../store/buildStore.js';
import { fail, type UserError } from '../../util/errors.js';
import type { Result } from '../../util/result.js';
import { onInterrupt } from '../interrupt.js';
import type { WatchOptions } from '../options.js';
import { OwnWrites } from '../ownWrites.js';
import { colourEnabled } from '../colour.js';
import { HumanReporter, JsonReporter, type Reporter } from '../reporters.js';
import { WatchedFiles } from '../watchFiles.js';
import { WatchReporter } from '../watchReporter.js';
import { startDashboard } from '../dashboard.js';

/** Editor saves come in bursts (write, rename, chmod): events this close together are one change. */
const DEBOUNCE_MS = Number(process.env.CF_WATCH_DEBOUNCE_MS) || 40;

interface Current {
  engine: Engine;
  drain: AbortController;
  state: OpenedStore;
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
  const own = new OwnWrites(opts.dir);
  const outputs = own.wrap(outputStore(opts.dir));
  const seams = { outputs };
  const first = await Workspace.open(opts.dir, seams);
  if (!first.ok) fail(first.error);
  let good: Workspace = first.value;
  const resolved = good.targets(names);
  if (!resolved.ok) fail(resolved.error);
  const unpriced = opts.maxCost !== null ? good.unpricedRunner(resolved.value) : null;
  if (unpriced) fail(unpriced);

  const reporter: Reporter = opts.json
    ? new JsonReporter()
    : opts.verbose
      ? new HumanReporter({ tty: false, quiet: false, verbose: true, colour: { out: colourEnabled(process.stdout), err: colourEnabled(process.stderr) } })
      : new WatchReporter();
  // The session's events: one stream, stamped (a rebuild's follow the one before's), the reporter a subscriber.
  const bus = new EventBus();
  bus.subscribe((e) => reporter.event(e));
  // And to .cf/events.log, which cf serve follows from another terminal.
  const log = new EventLogWriter(storeLayout(opts.dir));
  bus.subscribe((e) => log.write(e));
  const emit = bus.emitter;
  const interrupt = onInterrupt(() => reporter.note('cf watch: stopping agents… Ctrl-C again to quit now'));
  if (opts.verbose) noteUncontained((text) => reporter.note(text));
  spawner.prestart();
  const budget = new Budget(opts.maxCost);
  const pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let current: Current | null = null;
  let wake: (() => void) | null = null;
  /** The store and stat cache stay in memory between rebuilds (re-read when another cf changed the log). */
  let lastState: OpenedStore | null = null;
  let lastLogSize: number | null = null;
  const cache = good.inputs.cache;

  /** The workspace after a change: pipeline.yaml reread when it changed (the last good one kept if it is broken). */
  const reload = async (changed: string[]): Promise<{ ws: Result<Workspace, UserError>; pipelineError: UserError | null }> => {
    let pipeline = good.pipeline;
    let pipelineError: UserError | null = null;
    if (changed.includes(path.resolve(opts.dir, PIPELINE_FILE))) {
      const p = await loadPipeline(opts.dir);
      if (p.ok) pipeline = p.value;
      else pipelineError = p.error;
    }
    return { ws: await Workspace.open(opts.dir, seams, { pipeline, statCache: cache }), pipelineError };
  };

  /** Mid-build: start nothing new; cancel the running batches whose inputs changed (none while the inputs are not ready). */
  const stopAffected = async (c: Current): Promise<void> => {
    c.drain.abort();
    const next = (await reload([...pending])).ws;
    if (!next.ok || (!opts.allowEmptySeeds && notReadySeeds(next.value.inputs.graph))) return;
    c.engine.cancelOutdated(next.value.inputs.decider(c.state));
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
      if (!r.ws.ok) return refuse(r.ws.error);
      next = r.ws.value;
    }
    const notReady = opts.allowEmptySeeds ? null : notReadySeeds(next.inputs.graph);
    if (notReady) return refuse(notReady);
    good = next;
    await makeOutputDirs(good.pipeline);
    files.add(watchedFiles(good.pipeline));
    const resolvedNow = good.targets(names);
    if (!resolvedNow.ok) return refuse(resolvedNow.error);
    const requests: Request[] = resolvedNow.value;

    let inputChanged = 0;
    const count = (e: BuildEvent): void => {
      if (e.event === 'cancelled' && e.because) inputChanged++;
      emit(e);
    };
    const reuse = lastState !== null && lastState.revision !== null && lastState.revision === lastLogSize;
    const state = reuse ? lastState! : await good.openStore(false);
    const drain = new AbortController();
    let built: Awaited<ReturnType<Workspace['build']>>;
    try {
      built = await good.build(requests, {
        jobs: opts.jobs,
        maxCost: opts.maxCost,
        budget,
        allowEmptySeeds: opts.allowEmptySeeds,
        emit: count,
        signal: interrupt.signal,
        drain: drain.signal,
        store: state,
        outputs,
        command: 'watch',
        ...(opts.remoteCache !== undefined ? { remoteCache: opts.remoteCache } : {}),
        onEngine: (engine) => {
          current = { engine, drain, state };
          // Changes seen while the inputs were being read: this build may already be out of date.
          if (pending.size && !timer) void stopAffected(current);
        },
      });
    } catch (e) {
      // A hand edit is checked against the seeds, read then: a save caught half-written is not ready.
      if (!(e instanceof SeedsChanged)) throw e;
      return refuse({ kind: 'seeds', file: good.pipeline.seeds, message: e.message });
    } finally {
      current = null;
      lastState = state;
      lastLogSize = state.revision;
      files.add([]);
    }
    if (!built.ok) return refuse(built.error);
    if (built.value.interrupted) return { built: false, inputChanged: 0 };
    const s = built.value.summary;
    const exitCode = exitCodeOf(s, interrupt.signal.aborted, { rebuildsCancelled: true });
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

  // --serve: the dashboard, fed by this bus; a correction saved there is a change to rebuild from.
  const dashboard = opts.serve
    ? await startDashboard(opts.dir, opts.serve, {
        first: good,
        onCorrection: (file) => {
          pending.add(file);
          settle();
        },
      })
    : null;
  if (dashboard) {
    bus.subscribe((e) => dashboard.push(e));
    (opts.json ? process.stderr : process.stdout).write(`cf watch: ${dashboard.where}\n`);
  }
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
  await dashboard?.close();
  interrupt.dispose();
  reporter.note('cf watch: stopped');
  reporter.close();
  log.close();
  return 130;
}

/**
 * The merged outputs' directories, made before they are watched: a directory the first merge creates would
 * be watched only some time after it, and a hand edit made at once could go unseen until the next change.
 */
async function makeOutputDirs(p: Pipeline): Promise<void> {
  for (const phase of p.phases) await mkdir(path.dirname(path.resolve(p.dir, phase.output)), { recursive: true });
}
