import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { dryRun, type DryRunReport } from '../../app/inspect.js';
import { watchedFiles } from '../../app/inputs.js';
import { exitCodeOf } from '../../app/exitCode.js';
import type { BatchStatus } from '../../engine/analyze.js';
import { formatFreshReason, formatStaleReason } from '../format/reasons.js';
import { EventBus } from '../../events/bus.js';
import { EventLogWriter } from '../../events/eventLog.js';
import { emptySummary } from '../../events/types.js';
import { storeLayout } from '../../store/layout.js';
import { fail } from '../../util/errors.js';
import { STATE_FORMAT } from '../../version.js';
import { describeStatus } from '../format/statuses.js';
import { noteUncontained } from '../../exec/processes/processes.js';
import { onInterrupt } from '../interrupt.js';
import type { BuildOptions, GlobalOptions } from '../options.js';
import { clearNoopStamp, writeNoopStamp } from '../noop.js';
import { colourEnabled } from '../colour.js';
import { HumanReporter, JsonReporter, type Reporter } from '../reporters.js';
import { openWorkspace, requireTargets } from '../workspace.js';
import type { Coordinator } from '../../app/queue.js';
import type { Workspace } from '../../app/workspace.js';
import { queueLocation } from '../../config/queueConfig.js';
import type { BuildEvent } from '../../events/types.js';
import { startDashboard, type Dashboard } from '../dashboard.js';

export async function makeReporter(opts: Pick<GlobalOptions, 'json' | 'quiet' | 'verbose'>): Promise<Reporter> {
  if (opts.json) return new JsonReporter();
  const r = new HumanReporter({ tty: Boolean(process.stdout.isTTY) && !process.env.CI, quiet: opts.quiet, verbose: opts.verbose, colour: { out: colourEnabled(process.stdout), err: colourEnabled(process.stderr) } });
  await r.start();
  return r;
}

export async function buildCommand(opts: GlobalOptions, names: string[]): Promise<number> {
  const ws = await openWorkspace(opts.dir);
  const requests = requireTargets(ws, names);
  if (opts.dryRun) return printDryRun(opts, await dryRun(ws, requests));
  const reporter = await makeReporter(opts);
  // The build's events: one stream, stamped; the reporter is one subscriber of it.
  const bus = new EventBus();
  bus.subscribe((e) => reporter.event(e));
  // And to .cf/events.log, which cf serve follows from another terminal.
  const log = new EventLogWriter(storeLayout(opts.dir));
  bus.subscribe((e) => log.write(e));
  // --serve: the dashboard, fed by this bus.
  const dashboard = opts.serve ? await startDashboard(opts.dir, opts.serve, { first: ws }) : null;
  if (dashboard) {
    bus.subscribe((e) => dashboard.push(e));
    tell(opts, reporter, `cf: ${dashboard.where}`);
  }
  const interrupt = onInterrupt(() =>
    reporter.note('cf: interrupted: stopping running agents (nothing half-done is recorded); Ctrl-C again to quit at once'),
  );
  if (opts.verbose) noteUncontained((text) => reporter.note(text));
  const started = Date.now();
  // --queue (or queue: in pipeline.yaml, CF_QUEUE): the stale batches go to cf workers (see app/queue.ts).
  const queue = await openQueue(opts, ws, bus.emitter);
  if (queue === 'unreachable') {
    interrupt.dispose();
    reporter.close();
    log.close();
    await dashboard?.close();
    return 1;
  }
  const jobs = opts.jobs ?? (queue ? QUEUE_JOBS : null);
  const built = await (queue ? ws.withSeams({ executor: () => ({ executor: queue.executor, unstaged: () => false }) }) : ws)
    .build(requests, { jobs, maxCost: opts.maxCost, allowEmptySeeds: opts.allowEmptySeeds, emit: bus.emitter, signal: interrupt.signal, ...(opts.remoteCache !== undefined ? { remoteCache: opts.remoteCache } : {}) })
    .finally(async () => {
      interrupt.dispose();
      // Only now, with the build's records saved, do the jobs it took leave the queue.
      await queue?.finish();
    });
  if (!built.ok) {
    // Input cf cannot build from (found before anything ran): no summary, exit 2.
    reporter.close();
    log.close();
    await dashboard?.close();
    await clearNoopStamp(opts.dir);
    fail(built.error);
  }
  const s = built.value.summary ?? emptySummary();
  const exitCode = exitCodeOf(s, interrupt.signal.aborted);
  bus.emit({ event: 'summary', ok: exitCode === 0, exitCode, ms: Date.now() - started, ...s, ...(opts.maxCost !== null ? { maxCost: opts.maxCost } : {}) });
  reporter.close();
  log.close();
  // Everything asked for is up to date: stamp it, so that the next unchanged build answers at once.
  if (exitCode === 0 && !s.cancelled.length) {
    const files = watchedFiles(ws.pipeline).map((f) => path.relative(opts.dir, f));
    // Content hashes cf already has: the stat cache's for inputs, the merge records' for outputs.
    const outputs = built.value.outputs;
    const hashOf = (file: string, stat: { size: number; mtimeNs: string; ino: number }): string | null => {
      const out = outputs.get(file);
      if (out) return out.size === stat.size && out.mtimeNs === stat.mtimeNs && out.ino === stat.ino ? out.hash : null;
      return ws.inputs.cache.knownHash(path.resolve(opts.dir, file), stat) ?? null;
    };
    // cf's own files: the state log, and the stored outputs' directories (a stored output deleted makes its
    // batch stale: that must not be answered from the stamp).
    const paths = storeLayout(opts.dir);
    const own = [paths.log, ...(await readdir(paths.objects).catch(() => [] as string[])).map((d) => path.join(paths.objects, d))];
    await writeNoopStamp(opts.dir, names, STATE_FORMAT, files, own.map((f) => path.relative(opts.dir, f)), [...s.ran, ...s.fresh].sort(), hashOf);
  } else {
    await clearNoopStamp(opts.dir);
  }
  if (dashboard) await serveUntilInterrupted(opts, dashboard);
  return exitCode;
}

/** Jobs in the queue at once when -j is not given (the engine prepares 2×-j batches ahead). */
const QUEUE_JOBS = 64;

/** The queue this build uses (null: none), or 'unreachable' (said on stderr: exit 1, nothing touched). */
async function openQueue(opts: BuildOptions, ws: Workspace, emit: (e: BuildEvent) => void): Promise<Coordinator | null | 'unreachable'> {
  const location = queueLocation(opts.queue ?? null, ws.pipeline.queue ?? null, process.env, ws.pipeline.file);
  if (!location.ok) fail(location.error);
  if (!location.value) return null;
  const { openCoordinator } = await import('../../app/queue.js');
  const opened = await openCoordinator(ws, {
    location: location.value,
    emit,
    jobs: opts.jobs ?? QUEUE_JOBS,
    maxCost: opts.maxCost,
    ...(opts.remoteCache !== undefined ? { remoteCache: opts.remoteCache } : {}),
  });
  if ('ok' in opened) return opened.ok;
  process.stderr.write(`cf: cannot reach the queue ${location.value.url}: ${opened.unreachable}; nothing was built or recorded\n`);
  return 'unreachable';
}

/** A line about the dashboard: with the build's output, or on stderr when stdout is NDJSON. */
function tell(opts: Pick<GlobalOptions, 'json'>, reporter: Reporter, line: string): void {
  if (opts.json) process.stderr.write(`${line}\n`);
  else reporter.note(line);
}

/** cf build --serve, once the build is done: the dashboard shows its end until Ctrl-C. */
async function serveUntilInterrupted(opts: Pick<GlobalOptions, 'json'>, dashboard: Dashboard): Promise<void> {
  (opts.json ? process.stderr : process.stdout).write(`cf: build done; ${dashboard.where} until Ctrl-C\n`);
  const interrupt = onInterrupt();
  await new Promise<void>((resolve) => interrupt.signal.addEventListener('abort', () => resolve(), { once: true }));
  interrupt.dispose();
  await dashboard.close();
}

/** `cf build -n`: what would run and why, and what would be written; nothing runs. */
function printDryRun(opts: GlobalOptions, { rows, merges }: DryRunReport): number {
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
      if (s.kind === 'stale') line({ event: s.reassemble ? 'would-reassemble' : 'would-run', target: s.target, why: s.reasons, reasons: s.reasons.map(formatStaleReason) });
      else if (s.kind === 'pending') line({ event: 'may-run', target: s.target, upstream: s.upstream });
      else line({ event: 'fresh', target: s.target, why: s.reason, reason: formatFreshReason(s.reason) });
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
