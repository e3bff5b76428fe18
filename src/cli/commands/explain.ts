import { count } from '../../util/plural.js';
import { Analysis } from '../../engine/analyze.js';
import { refsCount } from '../../engine/fingerprint.js';
import { formatStaleReason } from '../../engine/staleness.js';
import { batchTarget } from '../../engine/targets.js';
import { formatDuration } from '../../util/duration.js';
import type { ExplainOptions } from '../main.js';
import { fail } from '../../util/errors.js';
import { formatErrors } from '../reporters.js';
import { openStore, outputStore, requireInputs } from '../../app/session.js';
import { describeStatus } from './build.js';
import { addUsage, emptyTotals, formatTotals } from '../../exec/runners/usage.js';

export async function explainCommand(opts: ExplainOptions, names: string[]): Promise<number> {
  if (!names.length) fail({ kind: 'usage', message: 'cf explain needs a target', hint: 'cf explain pairs#3, cf explain out/pairs.json; cf status lists everything' });
  const { inputs, requests } = await requireInputs(opts.dir, names);
  const store = await openStore(opts.dir, true);
  const decider = inputs.decider(store);
  const analysis = new Analysis(decider);
  const outputs = outputStore(opts.dir);
  const lines: string[] = [];
  const docs: object[] = [];
  for (const r of requests) {
    const phase = inputs.graph.phase(r.phase);
    if (r.merge) {
      const m = await analysis.merge(phase, outputs);
      const statuses = await analysis.phase(phase);
      const counts = { fresh: 0, stale: 0, pending: 0 };
      for (const s of statuses) counts[s.kind]++;
      lines.push(`${phase.output} (phase ${phase.name}, ${count(statuses.length, 'batch', 'batches')}): ${m.kind === 'fresh' ? 'up to date' : `out of date: ${m.reason}`}`);
      lines.push(`  batches: ${counts.fresh} fresh, ${counts.stale} will run, ${counts.pending} run only if upstream output changes`);
      for (const s of statuses.filter((x) => x.kind !== 'fresh')) lines.push(`  ${s.target}: ${describeStatus(s)}`);
      docs.push({
        target: phase.output,
        phase: phase.name,
        state: m.kind,
        ...('reason' in m ? { reason: m.reason } : {}),
        batches: statuses.map((s) => ({ target: s.target, state: s.kind, reason: describeStatus(s) })),
      });
      continue;
    }
    for (const b of r.batches) {
      const s = await analysis.batch(phase, b);
      const target = batchTarget(phase.name, b);
      const [start, end] = inputs.graph.batchRange(b);
      const ids = decider.seeds.ids;
      const span = end > start ? `seeds ${ids[start]}–${ids[end - 1]}` : 'no seeds';
      const last = store.lastSuccess(target);
      const failure = store.failure(target);
      lines.push(`${target} (${span}): ${s.kind === 'fresh' ? 'fresh' : s.kind === 'stale' ? 'stale, will run' : 'may run'}`);
      if (s.kind === 'stale') for (const reason of s.reasons) lines.push(`  - ${formatStaleReason(reason)}`);
      else lines.push(`  ${describeStatus(s)}`);
      if (last) {
        const how = last.adopted ? `adopted from ${last.adopted}` : `${last.attempts} attempt${last.attempts === 1 ? '' : 's'}, ${formatDuration(last.ms)}`;
        lines.push(`  last built ${last.at}: ${count(refsCount(last.items), 'item')}, ${how}, key ${last.key}`);
        if (last.usage?.length) {
          const t = emptyTotals();
          for (const u of last.usage) addUsage(t, u, u.attempt > 1);
          lines.push(`  cost: ${formatTotals(t)}`);
        }
        if (last.warnings?.length) lines.push(`  warnings:`, formatErrors(last.warnings, '    '));
      }
      if (failure && s.kind !== 'fresh') {
        lines.push(`  last failure ${failure.at} (${count(failure.attempts, 'attempt')}):`, formatErrors(failure.errors.filter((e) => e.attempt === failure.attempts), '    '));
      }
      docs.push({
        target,
        state: s.kind,
        reasons: s.kind === 'stale' ? s.reasons.map(formatStaleReason) : [describeStatus(s)],
        reasonCodes: s.kind === 'stale' ? s.reasons : [],
        ...(last ? { lastBuilt: { at: last.at, key: last.key, items: refsCount(last.items), attempts: last.attempts, ms: last.ms } } : {}),
        ...(failure && s.kind !== 'fresh' ? { lastFailure: failure } : {}),
      });
    }
  }
  if (opts.json) process.stdout.write(`${JSON.stringify(docs.length === 1 ? docs[0] : docs)}\n`);
  else process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
