import { explain, type BatchExplanation, type MergeExplanation } from '../../app/inspect.js';
import { refsCount } from '../../engine/fingerprint.js';
import { formatStaleReason } from '../format/reasons.js';
import { addUsage, emptyTotals, formatTotals } from '../../exec/runners/usage.js';
import { formatDuration } from '../../util/duration.js';
import { fail } from '../../util/errors.js';
import { count } from '../../util/plural.js';
import { describeStatus } from '../format/statuses.js';
import type { ExplainOptions } from '../options.js';
import { formatErrors } from '../reporters.js';
import { openWorkspace, requireTargets } from '../workspace.js';

export async function explainCommand(opts: ExplainOptions, names: string[]): Promise<number> {
  if (!names.length) fail({ kind: 'usage', message: 'cf explain needs a target', hint: 'cf explain pairs#3, cf explain out/pairs.json; cf status lists everything' });
  const ws = await openWorkspace(opts.dir);
  const found = await explain(ws, requireTargets(ws, names));
  if (opts.json) {
    const docs = found.map(toJson);
    process.stdout.write(`${JSON.stringify(docs.length === 1 ? docs[0] : docs)}\n`);
  } else {
    process.stdout.write(`${found.flatMap(toLines).join('\n')}\n`);
  }
  return 0;
}

function toLines(x: BatchExplanation | MergeExplanation): string[] {
  const lines: string[] = [];
  if (x.kind === 'merge') {
    const counts = { fresh: 0, stale: 0, pending: 0 };
    for (const s of x.batches) counts[s.kind]++;
    lines.push(`${x.output} (phase ${x.phase}, ${count(x.batches.length, 'batch', 'batches')}): ${x.status.kind === 'fresh' ? 'up to date' : `out of date: ${x.status.reason}`}`);
    lines.push(`  batches: ${counts.fresh} fresh, ${counts.stale} will run, ${counts.pending} run only if upstream output changes`);
    for (const s of x.batches.filter((b) => b.kind !== 'fresh')) lines.push(`  ${s.target}: ${describeStatus(s)}`);
    return lines;
  }
  const s = x.status;
  lines.push(`${s.target} (${x.span ? `seeds ${x.span[0]}–${x.span[1]}` : 'no seeds'}): ${s.kind === 'fresh' ? 'fresh' : s.kind === 'stale' ? 'stale, will run' : 'may run'}`);
  if (s.kind === 'stale') for (const reason of s.reasons) lines.push(`  - ${formatStaleReason(reason)}`);
  else lines.push(`  ${describeStatus(s)}`);
  const last = x.last;
  if (last) {
    const how = last.adopted ? `adopted from ${last.adopted}` : `${count(last.attempts, 'attempt')}, ${formatDuration(last.ms)}`;
    if (last.remote) lines.push(`  built ${last.at} by ${last.remote.host}, taken from the remote cache ${last.remote.takenAt}: ${count(refsCount(last.items), 'item')}, ${how}, key ${last.key}`);
    else lines.push(`  last built ${last.at}: ${count(refsCount(last.items), 'item')}, ${how}, key ${last.key}`);
    if (last.usage?.length) {
      const t = emptyTotals();
      for (const u of last.usage) addUsage(t, u, u.attempt > 1);
      lines.push(`  cost: ${formatTotals(t)}`);
    }
    if (last.warnings?.length) lines.push(`  warnings:`, formatErrors(last.warnings, '    '));
  }
  const failure = x.failure;
  if (failure) lines.push(`  last failure ${failure.at} (${count(failure.attempts, 'attempt')}):`, formatErrors(failure.errors.filter((e) => e.attempt === failure.attempts), '    '));
  return lines;
}

function toJson(x: BatchExplanation | MergeExplanation): object {
  if (x.kind === 'merge') {
    return {
      target: x.output,
      phase: x.phase,
      state: x.status.kind,
      ...('reason' in x.status ? { reason: x.status.reason } : {}),
      batches: x.batches.map((s) => ({ target: s.target, state: s.kind, reason: describeStatus(s) })),
    };
  }
  const s = x.status;
  const last = x.last;
  return {
    target: s.target,
    state: s.kind,
    reasons: s.kind === 'stale' ? s.reasons.map(formatStaleReason) : [describeStatus(s)],
    reasonCodes: s.kind === 'stale' ? s.reasons : [],
    ...(last ? { lastBuilt: { at: last.at, key: last.key, items: refsCount(last.items), attempts: last.attempts, ms: last.ms, ...(last.remote ? { remote: last.remote } : {}) } } : {}),
    ...(x.failure ? { lastFailure: x.failure } : {}),
  };
}
