import path from 'node:path';
import { clean, type CleanReport } from '../../app/clean.js';
import type { TargetId } from '../../engine/targets.js';
import { storeLayout } from '../../store/layout.js';
import { describeLockWait } from '../../store/lock.js';
import { count } from '../../util/plural.js';
import type { CleanOptions } from '../options.js';
import { openWorkspace, requireTargets } from '../workspace.js';

/** Batch targets named in a dry run's line for one phase; the rest are counted. */
const LIST_MAX = 12;

const runDirectories = (n: number): string => count(n, 'run directory', 'run directories');

/**
 * Deletes merged outputs and forgets batch records: the named targets, or everything. Kept: hand-edited
 * outputs cf replaced earlier (.cf/replaced/). With -n, lists what it would delete and changes nothing.
 */
export async function cleanCommand(opts: CleanOptions, names: string[]): Promise<number> {
  const ws = await openWorkspace(opts.dir);
  const report = await clean(ws, requireTargets(ws, names), { dryRun: opts.dryRun, onWait: (o) => process.stderr.write(`cf: ${describeLockWait(o)}\n`) });
  process.stdout.write(`${(report.dryRun ? dryRunLines(opts.dir, report) : doneLines(report)).join('\n')}\n`);
  return 0;
}

function doneLines(r: CleanReport): string[] {
  const parts = [r.outputs.length ? `removed ${r.outputs.join(', ')}` : 'no outputs to remove', `forgot ${count(r.batches.length, 'batch record')}`];
  if (r.storedOutputs) parts.push(`deleted ${count(r.storedOutputs, 'stored output')}`);
  return [`cf: ${parts.join('; ')}`];
}

function dryRunLines(dir: string, r: CleanReport): string[] {
  const paths = storeLayout(dir);
  const out: string[] = [];
  for (const o of r.outputs) out.push(`would remove ${o}`);
  const byPhase = new Map<string, TargetId[]>();
  for (const t of r.batches) {
    const phase = t.split('#')[0]!;
    byPhase.set(phase, [...(byPhase.get(phase) ?? []), t]);
  }
  const batchNumber = (t: TargetId): number => Number(t.split('#')[1]);
  for (const [phase, unsorted] of byPhase) {
    const ts = unsorted.sort((a, b) => batchNumber(a) - batchNumber(b));
    const shown = ts.slice(0, LIST_MAX).join(', ');
    out.push(`would forget ${count(ts.length, 'batch record')} of ${phase}: ${shown}${ts.length > LIST_MAX ? ` and ${ts.length - LIST_MAX} more` : ''}`);
  }
  if (r.runDirs.length) out.push(`would delete ${runDirectories(r.runDirs.length)} under ${path.relative(dir, paths.runs)}`);
  if (r.storedOutputs) out.push(`would delete ${count(r.storedOutputs, 'stored output')} under ${path.relative(dir, paths.objects)}`);
  out.push(
    `cf: dry run: would remove ${count(r.outputs.length, 'output')}, forget ${count(r.batches.length, 'batch record')}, delete ${runDirectories(r.runDirs.length)} and ${count(r.storedOutputs, 'stored output')}; nothing was deleted`,
  );
  return out;
}
