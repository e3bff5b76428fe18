import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { FSWatcher } from 'chokidar';
import { Engine, type BuildSummary } from '../../graph/build.js';
import type { BuildEvent } from '../../graph/events.js';
import { acquireLock, describeLockWait } from '../../graph/lock.js';
import { loadPipeline, PIPELINE_FILE } from '../../graph/pipeline.js';
import type { State } from '../../graph/state.js';
import { resolveTargets, type Request } from '../../graph/targets.js';
import { onInterrupt } from '../interrupt.js';
import { formatDuration } from '../../util/duration.js';
import { fail, formatUserError } from '../../util/errors.js';
import { hashString } from '../../util/hash.js';
import type { GlobalOptions } from '../main.js';
import { formatErrors, HumanReporter, JsonReporter, type Reporter } from '../reporters.js';
import { loadInputs, outputStore, readState, watchedFiles, type Inputs } from '../session.js';
import { hashOf, type OutputStore } from '../../graph/outputs.js';
import { createEngine, finishBuild, takeEdits } from './build.js';

/** Editor saves come in bursts (write, rename, chmod): events this close together are one change. */
const DEBOUNCE_MS = Number(process.env.CF_WATCH_DEBOUNCE_MS) || 40;

interface Current {
  engine: Engine;
  drain: AbortController;
  state: State;
}

/**
 * `cf watch`: builds, then rebuilds what a change affects on every save. A change during a build stops
 * new batches from starting, cancels the running batches whose inputs changed (their process trees are
 * killed, nothing is recorded), lets the others finish, and builds again with the new inputs.
 */
export async function watchCommand(opts: GlobalOptions, names: string[]): Promise<number> {
  const first = await loadInputs(opts.dir);
  if (!first.ok) fail(first.error);
  let good: Inputs = first.value;
  const resolved = resolveTargets(good.graph, names);
  if (!resolved.ok) fail(resolved.error);
  // Without -v, a human sees one line per rebuild (rebuildLine); with -v, every batch as in cf build.
  const reporter: Reporter | null = opts.json ? new JsonReporter() : opts.verbose ? new HumanReporter({ tty: false, quiet: false, verbose: true }) : null;
  const say = (line: string): void => {
    if (!opts.json) process.stdout.write(`${line}\n`);
  };
  const emit = (e: BuildEvent): void => reporter?.event(e);

  const interrupt = onInterrupt();

  const { watch } = await import('chokidar');
  // chokidar is given the directories of the watched files (depth 0, everything else ignored), not the
  // files: given files in several directories, it misses a deleted file's re-creation, and a missing path
  // (an output not built yet) makes it miss more. Directories made later are added after each rebuild.
  let wanted = new Set(watchedFiles(good.pipeline));
  const dirs = new Set<string>();
  const newDirs = (): string[] => [...new Set([...wanted].map((f) => path.dirname(f)))].filter((d) => !dirs.has(d) && existsSync(d));
  const initialDirs = newDirs();
  for (const d of initialDirs) dirs.add(d);
  const watcher: FSWatcher = watch(initialDirs, {
    ignoreInitial: true,
    atomic: true,
    depth: 0,
    ignored: (p) => !wanted.has(p) && !dirs.has(p),
  });
  const watchNew = (): void => {
    wanted = new Set([...wanted, ...watchedFiles(good.pipeline)]);
    const add = newDirs();
    for (const d of add) dirs.add(d);
    if (add.length) watcher.add(add);
  };
  /**
   * The content hash of every merged output cf itself wrote last, registered before the write starts (a
   * streamed merge's hash is known when it ends: the watcher's event waits for it), so there is no race.
   */
  const ownWrites = new Map<string, Promise<string | null>>();
  const disk = outputStore(opts.dir);
  const outputs: OutputStore = {
    stamp: (rel) => disk.stamp(rel),
    read: (rel) => disk.read(rel),
    readBytes: (rel) => disk.readBytes(rel),
    openBytes: (rel) => disk.openBytes(rel),
    preserve: (rel) => disk.preserve(rel),
    write: (rel, data) => {
      ownWrites.set(path.resolve(opts.dir, rel), Promise.resolve(hashOf(data)));
      return disk.write(rel, data);
    },
    writeStream: (rel, chunks) => {
      const written = disk.writeStream(rel, chunks);
      ownWrites.set(path.resolve(opts.dir, rel), written.then((f) => f.hash, () => null));
      return written;
    },
  };
  const pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let current: Current | null = null;
  let lastState: State | null = null;
  /** The state and stat cache stay in memory between rebuilds (re-read when another cf changed the log). */
  let lastLogSize: number | null = null;
  const cache = good.cache;
  let wake: (() => void) | null = null;

  /** cf's own writes of merged outputs come back as events: those whose content cf just recorded are not changes. */
  const isOwnWrite = async (file: string): Promise<boolean> => {
    const own = await ownWrites.get(file);
    if (own === undefined || own === null) return false;
    const text = await readFile(file, 'utf8').catch(() => null);
    return text !== null && hashString(text) === own;
  };

  const onEvent = async (file: string): Promise<void> => {
    const abs = path.resolve(file);
    if (await isOwnWrite(abs)) return;
    pending.add(abs);
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      if (current) void stopAffected(current);
      wake?.();
    }, DEBOUNCE_MS);
  };
  watcher.on('all', (_event, file) => void onEvent(file));
  await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));

  /** Mid-build: start nothing new; cancel the running batches whose inputs changed. */
  const stopAffected = async (c: Current): Promise<void> => {
    c.drain.abort();
    const next = await reload([...pending]);
    if (!next) return;
    c.engine.cancelOutdated(next.decider(c.state));
  };

  /** The inputs after a change: pipeline.yaml reread when it changed (the last good one kept if it is broken). */
  const reload = async (changed: string[]): Promise<Inputs | null> => {
    let pipeline = good.pipeline;
    if (changed.includes(path.resolve(opts.dir, PIPELINE_FILE))) {
      const p = await loadPipeline(opts.dir);
      if (!p.ok) {
        say(`${formatUserError(p.error)}\ncf watch: keeps watching with the last good pipeline.yaml`);
        if (opts.json) emit({ event: 'config-error', file: PIPELINE_FILE, message: formatUserError(p.error) });
      } else pipeline = p.value;
    }
    const r = await loadInputs(opts.dir, pipeline, cache);
    if (!r.ok) {
      say(formatUserError(r.error));
      return null;
    }
    return r.value;
  };

  const rebuild = async (changed: string[]): Promise<void> => {
    const started = Date.now();
    const next = changed.length ? await reload(changed) : good;
    if (!next) return;
    good = next;
    const requests: Request[] = resolveTargets(good.graph, names).ok ? (resolveTargets(good.graph, names) as { value: Request[] }).value : [];
    watchNew();
    const lock = await acquireLock(opts.dir, 'watch', (o) => say(`cf watch: ${describeLockWait(o)}`), interrupt.signal).catch(() => null);
    if (!lock) return;
    const events: BuildEvent[] = [];
    let summary: BuildSummary | null = null;
    try {
      const reuse = lastState !== null && lastState.logSize === lastLogSize;
      const state = reuse ? lastState! : await readState(opts.dir, false);
      const drain = new AbortController();
      const engine = createEngine({
        opts,
        inputs: good,
        state,
        emit: (e) => {
          events.push(e);
          emit(e);
        },
        signal: interrupt.signal,
        drain: drain.signal,
        outputs,
      });
      current = { engine, drain, state };
      try {
        await takeEdits(good, engine.decider, (e) => {
          events.push(e);
          emit(e);
        }, interrupt.signal, outputs);
        engine.plan(requests);
        summary = await engine.run(requests);
      } finally {
        current = null;
        await finishBuild(opts.dir, good, state);
        lastState = state;
        lastLogSize = state.logSize;
      }
    } finally {
      await lock.release();
      watchNew();
    }
    const s = summary ?? { ran: [], fresh: [], failed: [], skipped: [], merged: [], cancelled: [], stopped: [], usage: {} };
    const exitCode = interrupt.signal.aborted ? 130 : s.failed.length || s.skipped.length || s.stopped.length ? 1 : 0;
    emit({ event: 'summary', ok: exitCode === 0, exitCode, ms: Date.now() - started, ...s });
    if (!opts.json && !opts.verbose) say(rebuildLine(changed, good.pipeline.dir, s, events, Date.now() - started));
  };

  say(`cf watch: watching ${wanted.size} files; Ctrl-C to stop`);
  let changed: string[] = [];
  for (;;) {
    await rebuild(changed);
    if (interrupt.signal.aborted) break;
    if (!pending.size || timer) {
      await new Promise<void>((resolve) => {
        const onAbort = (): void => resolve();
        wake = () => {
          interrupt.signal.removeEventListener('abort', onAbort);
          resolve();
        };
        interrupt.signal.addEventListener('abort', onAbort, { once: true });
      });
      wake = null;
    }
    if (interrupt.signal.aborted) break;
    changed = [...pending];
    pending.clear();
  }
  await watcher.close();
  interrupt.dispose();
  reporter?.close();
  say('cf watch: stopped');
  return 130;
}

/** "12:00:01 seeds.json changed: ran pairs#2, legos#2 (seed S0025 changed); 2 ran, 4 fresh in 1.2 s" */
function rebuildLine(changed: string[], dir: string, s: BuildSummary, events: BuildEvent[], ms: number): string {
  const time = new Date().toTimeString().slice(0, 8);
  const what = changed.length ? `${changed.map((f) => path.relative(dir, f)).join(', ')} changed` : 'initial build';
  const reasons = new Set<string>();
  for (const e of events) if (e.event === 'started') for (const r of e.reasons) reasons.add(r);
  const counts = [`${s.ran.length} ran`, `${s.fresh.length} fresh`];
  if (s.failed.length) counts.push(`${s.failed.length} failed`);
  if (s.cancelled.length) counts.push(`${s.cancelled.length} cancelled (rerun next)`);
  if (s.stopped.length) counts.push(`${s.stopped.length} not started (budget)`);
  const ran = s.ran.length ? `: ran ${s.ran.join(', ')}${reasons.size ? ` (${[...reasons].slice(0, 3).join('; ')})` : ''}` : ': nothing to run';
  let line = `${time} ${what}${ran}; ${counts.join(', ')} in ${formatDuration(ms)}`;
  for (const e of events) {
    if (e.event === 'failed') line += `\n  ${e.target} FAILED:\n${formatErrors(e.errors.filter((x) => x.attempt === e.attempts), '    ')}`;
  }
  return line;
}
