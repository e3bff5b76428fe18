import { count } from '../../util/plural.js';
import { Analysis, type BatchStatus, type MergeStatus } from '../../engine/analyze.js';
import type { FailureRecord } from '../../store/records.js';
import { batchTarget } from '../../engine/targets.js';
import type { StatusOptions } from '../main.js';
import { fail } from '../../util/errors.js';
import { formatErrors } from '../reporters.js';
import { openStore, outputStore, requireInputs } from '../../app/session.js';
import { describeStatus } from './build.js';
import { addUsage, emptyTotals, formatTotals, type UsageTotals } from '../../exec/runners/usage.js';

const LIST_MAX = 12;

interface PhaseRow {
  phase: string;
  batches: number;
  fresh: number;
  stale: number;
  waiting: number;
  failed: number;
  output: MergeStatus;
  /** What the phase's current batches (and recorded failures) cost to build. */
  usage: UsageTotals;
}

export async function statusCommand(opts: StatusOptions, args: string[]): Promise<number> {
  if (args.length) fail({ kind: 'usage', message: 'cf status takes no targets', hint: 'cf explain TARGET' });
  const { inputs } = await requireInputs(opts.dir, []);
  const store = await openStore(opts.dir, true);
  const decider = inputs.decider(store);
  const analysis = new Analysis(decider);
  const outputs = outputStore(opts.dir);
  const rows: PhaseRow[] = [];
  const notFresh: BatchStatus[] = [];
  const failures: FailureRecord[] = [];
  for (const phase of inputs.graph.phases) {
    const row: PhaseRow = { phase: phase.name, batches: inputs.graph.batchCount, fresh: 0, stale: 0, waiting: 0, failed: 0, output: await analysis.merge(phase, outputs), usage: emptyTotals() };
    for (const b of inputs.graph.batches()) {
      const s = await analysis.batch(phase, b);
      const f = s.kind !== 'fresh' ? store.failure(batchTarget(phase.name, b)) : undefined;
      const built = s.kind === 'fresh' ? s.record : store.lastSuccess(batchTarget(phase.name, b));
      for (const u of [...(built?.usage ?? []), ...(f?.usage ?? [])]) addUsage(row.usage, u, u.attempt > 1);
      if (f) failures.push(f);
      // Each batch counts once: fresh, failed (with these very inputs), stale (will run), or waiting.
      if (s.kind === 'fresh') row.fresh++;
      else if (s.kind === 'stale' && s.failure) row.failed++;
      else if (s.kind === 'stale') row.stale++;
      else row.waiting++;
      if (s.kind !== 'fresh') notFresh.push(s);
    }
    rows.push(row);
  }
  const p = inputs.pipeline;
  if (opts.json) {
    process.stdout.write(
      `${JSON.stringify({
        seeds: { file: p.seeds, count: inputs.graph.seedCount, batchSize: p.batchSize, batches: inputs.graph.batchCount },
        phases: rows.map((r) => ({ ...r, output: { path: r.output.output, state: r.output.kind, ...('reason' in r.output ? { reason: r.output.reason } : {}) } })),
        notFresh: notFresh.map((s) => ({ target: s.target, state: s.kind, reason: describeStatus(s) })),
        failures,
      })}\n`,
    );
    return 0;
  }
  const out: string[] = [];
  out.push(`seeds: ${p.seeds}: ${count(inputs.graph.seedCount, 'seed')} in ${count(inputs.graph.batchCount, 'batch', 'batches')} of ${p.batching === 'stable' ? 'about ' : ''}${p.batchSize}`);
  out.push('');
  const w = Math.max(5, ...rows.map((r) => r.phase.length));
  out.push(`${'phase'.padEnd(w)}  fresh     stale  waiting  failed  output`);
  for (const r of rows) {
    const o = r.output;
    const outState = o.kind === 'fresh' ? 'up to date' : `out of date: ${o.reason}`;
    out.push(
      `${r.phase.padEnd(w)}  ${`${r.fresh}/${r.batches}`.padEnd(8)}  ${String(r.stale).padEnd(5)}  ${String(r.waiting).padEnd(7)}  ${String(r.failed).padEnd(6)}  ${o.output} (${outState})`,
    );
  }
  const priced = rows.filter((r) => r.usage.attempts);
  if (priced.length) {
    out.push('', 'what the current batches cost (agent runs recorded with them):');
    for (const r of priced) out.push(`  ${r.phase.padEnd(w)}  ${formatTotals(r.usage)}`);
  }
  if (notFresh.length) {
    out.push('', 'to run:');
    for (const s of notFresh.slice(0, LIST_MAX)) out.push(`  ${s.target}: ${describeStatus(s)}`);
    if (notFresh.length > LIST_MAX) out.push(`  … and ${notFresh.length - LIST_MAX} more (cf build --dry-run lists them all)`);
  }
  if (failures.length) {
    out.push('', 'failures recorded:');
    for (const f of failures) {
      out.push(`  ${f.target}: ${f.stopped ? `stopped by --max-cost after ${f.attempts} attempt${f.attempts === 1 ? '' : 's'}` : `failed after ${f.attempts} attempt${f.attempts === 1 ? '' : 's'}`} at ${f.at}`);
      for (let a = 1; a <= f.attempts; a++) {
        const errs = f.errors.filter((e) => e.attempt === a);
        if (errs.length) out.push(`    attempt ${a}:`, formatErrors(errs, '      '));
      }
    }
  }
  if (!notFresh.length && rows.every((r) => r.output.kind === 'fresh')) out.push('', 'everything is up to date');
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}
