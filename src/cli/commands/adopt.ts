import { count } from '../../util/plural.js';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { adopt } from '../../app/adopt.js';
import { describeLockWait } from '../../store/lock.js';
import { registry } from '../../config/registry.js';
import type { ReadResult } from '../../config/plugins.js';
import { fail } from '../../util/errors.js';
import type { AdoptOptions } from '../options.js';
import { formatErrors } from '../reporters.js';
import { openWorkspace } from '../workspace.js';

/** `cf adopt PHASE --from FILE`: an existing merged output becomes the phase's batches, fresh for the current inputs. */
export async function adoptCommand(opts: AdoptOptions, args: string[], from: string | undefined): Promise<number> {
  if (args.length !== 1 || !from) fail({ kind: 'usage', message: 'usage: cf adopt PHASE --from FILE', hint: 'e.g. cf adopt lego_pairs --from old/lego_pairs.json' });
  const ws = await openWorkspace(opts.dir);
  const inputs = ws.inputs;
  const phase = inputs.graph.phases.find((p) => p.name === args[0] || p.output === path.normalize(args[0]!));
  if (!phase) fail({ kind: 'usage', message: `unknown phase "${args[0]}"`, hint: `phases: ${inputs.graph.phases.map((p) => p.name).join(', ')}` });
  // Relative to where cf runs (-C DIR: that directory, as make -C).
  const file = path.resolve(opts.dir, from);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    fail({ kind: 'usage', message: `cannot read ${from}: ${(e as Error).message}` });
  }
  // A phase merged in a registered format reads its documents; a JSON one, an array of items or a document
  // of a known kind (found from its content).
  let read: ReadResult | null;
  if (phase.merge.format !== 'json') read = registry.mergeFormat(phase.merge.format).read(text);
  else {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      fail({ kind: 'usage', message: `cannot read ${from}: ${(e as Error).message}` });
    }
    read = registry.readDocument(doc, null);
  }
  if (!read) fail({ kind: 'usage', message: `${from}: expected a JSON array of items or a document of a known kind (${registry.documentNames().join(', ')})` });
  if (!read.ok) fail({ kind: 'usage', message: `${from}: ${read.error}` });
  const items = read.items;
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
