import { count } from '../../util/plural.js';
import path from 'node:path';
import { adopt } from '../../app/adopt.js';
import { describeLockWait } from '../../store/lock.js';
import { fail } from '../../util/errors.js';
import type { AdoptOptions } from '../options.js';
import { formatErrors } from '../reporters.js';
import { namedPhase, readPhaseFile } from '../phaseFile.js';
import { openWorkspace } from '../workspace.js';

/** `cf adopt PHASE --from FILE`: an existing merged output becomes the phase's batches, fresh for the current inputs. */
export async function adoptCommand(opts: AdoptOptions, args: string[], from: string | undefined): Promise<number> {
  if (args.length !== 1 || !from) fail({ kind: 'usage', message: 'usage: cf adopt PHASE --from FILE', hint: 'e.g. cf adopt lego_pairs --from old/lego_pairs.json' });
  const ws = await openWorkspace(opts.dir);
  const inputs = ws.inputs;
  const phase = namedPhase(ws, args[0]!);
  // Relative to where cf runs (-C DIR: that directory, as make -C).
  const items = await readPhaseFile(phase, path.resolve(opts.dir, from), from);
  const report = await adopt(ws, phase, items, from, { onWait: (o) => process.stderr.write(`cf: ${describeLockWait(o)}\n`) });
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ phase: phase.name, from, ...report })}\n`);
  } else {
    const total = inputs.graph.batchCount;
    const lines = [
      `cf adopt: ${report.adopted.length} of ${count(total, 'batch', 'batches')} of ${phase.name} adopted from ${from}${report.alreadyFresh.length ? ` (${report.alreadyFresh.length} already fresh)` : ''}`,
    ];
    if (report.unknownIds.length) lines.push(`  ${count(report.unknownIds.length, 'item')} in ${from} ${report.unknownIds.length === 1 ? 'matches' : 'match'} no seed and ${report.unknownIds.length === 1 ? 'was' : 'were'} ignored (${report.unknownIds.slice(0, 5).join(', ')}${report.unknownIds.length > 5 ? ', …' : ''})`);
    for (const r of report.rejected) {
      lines.push(`  not adopted: ${r.target}: ${r.reason}`);
      if (r.errors.length) lines.push(formatErrors(r.errors, '      '));
    }
    if (report.rejected.length) lines.push(`  cf build will run the ${report.rejected.length} batch${report.rejected.length === 1 ? '' : 'es'} not adopted`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return report.rejected.length ? 1 : 0;
}
