import { correctionStates, type CorrectionState } from '../../app/corrections.js';
import { status, type StatusReport } from '../../app/inspect.js';
import { describeCorrection } from './correct.js';
import { queueLocation, type QueueLocation } from '../../config/queueConfig.js';
import type { QueueState } from '../../exec/queue/liveJobs.js';
import { formatTotals, reported } from '../../exec/runners/usage.js';
import { formatDuration } from '../../util/duration.js';
import { fail } from '../../util/errors.js';
import { count } from '../../util/plural.js';
import { describeStatus } from '../format/statuses.js';
import type { StatusOptions } from '../options.js';
import { colourEnabled, painter, plain, type Paint } from '../colour.js';
import { formatErrors } from '../reporters.js';
import { openWorkspace } from '../workspace.js';

const LIST_MAX = 12;

export async function statusCommand(opts: StatusOptions, args: string[]): Promise<number> {
  if (args.length) fail({ kind: 'usage', message: 'cf status takes no targets', hint: 'cf explain TARGET' });
  const ws = await openWorkspace(opts.dir);
  const location = queueLocation(opts.queue ?? null, ws.pipeline.queue ?? null, process.env, ws.pipeline.file);
  if (!location.ok) fail(location.error);
  const report = await status(ws);
  const corrections = await correctionStates(ws);
  const queue = location.value && (await askQueue(location.value, ws.pipeline.phases.map((p) => p.name)));
  process.stdout.write(
    `${
      opts.json
        ? JSON.stringify({ ...toJson(report), corrections, ...(queue ? { queue } : {}) })
        : [...toLines(report, painter(colourEnabled(process.stdout))), ...correctionLines(corrections), ...(queue ? queueLines(queue) : [])].join('\n')
    }\n`,
  );
  return 0;
}

/** The queue's side of a status: which worker runs which batch, how many wait; or that Redis could not be asked. */
type QueueReport = { url: string } & (QueueState | { unreachable: string });

/** The queue asked (BullMQ is loaded only here: a status without a queue never loads it). */
async function askQueue(location: QueueLocation, phases: string[]): Promise<QueueReport> {
  const [{ liveJobs }, { connectionOf }] = await Promise.all([import('../../exec/queue/liveJobs.js'), import('../../exec/queue/connection.js')]);
  const r = await liveJobs(connectionOf(location), phases);
  return { url: location.url, ...('ok' in r ? r.ok : r) };
}

function queueLines(q: QueueReport, now = Date.now()): string[] {
  if ('unreachable' in q) return ['', `queue ${q.url}: could not be reached (${q.unreachable}); the state above is this checkout's records only`];
  if (!q.running.length && !q.waiting) return ['', `queue ${q.url}: no batch of this pipeline running on a worker or waiting`];
  const out = ['', `queue ${q.url}: ${q.running.length} running on workers, ${q.waiting} waiting for one`];
  for (const j of q.running.slice(0, LIST_MAX)) {
    const what = [j.attempt !== null ? `attempt ${j.attempt}${j.attempts !== null ? ` of ${j.attempts}` : ''}` : null, j.since !== null ? formatDuration(Math.max(0, now - j.since)) : null].filter(Boolean);
    out.push(`  ${j.target} on ${j.worker ?? 'a worker'}${what.length ? ` (${what.join(', ')})` : ''}`);
  }
  if (q.running.length > LIST_MAX) out.push(`  … and ${q.running.length - LIST_MAX} more (cf status --json lists them all)`);
  return out;
}

/** The corrections, per phase, and each one made against an older generation (to keep or drop). */
function correctionLines(states: CorrectionState[]): string[] {
  if (!states.length) return [];
  const out = ['', 'corrections (corrections/PHASE.jsonl):'];
  const phases = [...new Set(states.map((c) => c.phase))];
  for (const phase of phases) {
    const of = states.filter((c) => c.phase === phase);
    const flagged = of.filter((c) => c.state !== 'current');
    out.push(`  ${phase}: ${count(of.length, 'correction')}${flagged.length ? `, ${flagged.length} to review` : ''}`);
    for (const c of flagged) out.push(`    ${describeCorrection(c)}`);
  }
  return out;
}

function toJson(r: StatusReport): object {
  const { batching: _batching, ...seeds } = r.seeds;
  return {
    seeds,
    phases: r.phases.map((p) => ({ ...p, output: { path: p.output.output, state: p.output.kind, ...('reason' in p.output ? { reason: p.output.reason } : {}) } })),
    notFresh: r.notFresh.map((s) => ({ target: s.target, state: s.kind, reason: describeStatus(s) })),
    failures: r.failures,
  };
}

function toLines(r: StatusReport, paint: Paint = plain): string[] {
  const out: string[] = [];
  const s = r.seeds;
  out.push(`seeds: ${s.file}: ${count(s.count, 'seed')} in ${count(s.batches, 'batch', 'batches')} of ${s.batching === 'stable' ? 'about ' : ''}${s.batchSize}`);
  out.push('');
  const w = Math.max(5, ...r.phases.map((p) => p.phase.length));
  out.push(`${'phase'.padEnd(w)}  fresh     stale  waiting  failed  output`);
  for (const p of r.phases) {
    const o = p.output;
    const outState = o.kind === 'fresh' ? paint('green', 'up to date') : paint('yellow', `out of date: ${o.reason}`);
    out.push(`${p.phase.padEnd(w)}  ${`${p.fresh}/${p.batches}`.padEnd(8)}  ${String(p.stale).padEnd(5)}  ${String(p.waiting).padEnd(7)}  ${String(p.failed).padEnd(6)}  ${o.output} (${outState})`);
  }
  const remote = r.phases.filter((p) => p.remote);
  if (remote.length) out.push('', `fresh from the remote cache (built on other machines): ${remote.map((p) => `${p.phase} ${p.remote}/${p.batches}`).join(', ')}`);
  const priced = r.phases.filter((p) => reported(p.usage));
  if (priced.length) {
    out.push('', 'what the current batches cost (agent runs recorded with them):');
    for (const p of priced) out.push(`  ${p.phase.padEnd(w)}  ${formatTotals(p.usage)}`);
  }
  if (r.notFresh.length) {
    out.push('', 'to run:');
    for (const b of r.notFresh.slice(0, LIST_MAX)) out.push(`  ${b.target}: ${describeStatus(b)}`);
    if (r.notFresh.length > LIST_MAX) out.push(`  … and ${r.notFresh.length - LIST_MAX} more (cf build --dry-run lists them all)`);
  }
  if (r.failures.length) {
    out.push('', paint(['red', 'bold'], 'failures recorded:'));
    for (const f of r.failures) {
      out.push(`  ${f.target}: ${f.stopped ? `stopped by --max-cost after ${count(f.attempts, 'attempt')}` : `failed after ${count(f.attempts, 'attempt')}`} at ${f.at}`);
      for (let a = 1; a <= f.attempts; a++) {
        const errs = f.errors.filter((e) => e.attempt === a);
        if (errs.length) out.push(`    attempt ${a}:`, formatErrors(errs, '      '));
      }
    }
  }
  if (!r.notFresh.length && r.phases.every((p) => p.output.kind === 'fresh')) out.push('', paint('green', 'everything is up to date'));
  return out;
}
