import { localGc, remoteGc } from '../../app/gc.js';
import { describeLockWait } from '../../store/lock.js';
import { fail } from '../../util/errors.js';
import { count } from '../../util/plural.js';
import type { GcOptions } from '../options.js';
import { openWorkspace } from '../workspace.js';

/** cf gc [--remote --older-than AGE] [-n]. */
export async function gcCommand(opts: GcOptions, args: string[]): Promise<number> {
  if (args.length) fail({ kind: 'usage', message: 'cf gc takes no targets', hint: 'cf clean TARGET forgets a target' });
  const ws = await openWorkspace(opts.dir);
  const out = (line: string): boolean => process.stdout.write(`${line}\n`);
  if (!opts.remote) {
    const n = await localGc(ws, { dryRun: opts.dryRun, onWait: (o) => process.stderr.write(`cf: ${describeLockWait(o)}\n`) });
    out(`cf: ${opts.dryRun ? 'would delete' : 'deleted'} ${count(n, 'stored output')} no record refers to${opts.dryRun ? '; nothing was deleted' : ''}`);
    return 0;
  }
  const r = await remoteGc(ws, { olderThanMs: opts.olderThanMs!, dryRun: opts.dryRun, override: opts.remoteCache ?? null, now: new Date() });
  if (!r.ok) fail(r.error);
  if ('failed' in r.value) {
    process.stderr.write(`cf: error: the remote cache ${r.value.remote} does not answer: ${r.value.failed}\n`);
    return 1;
  }
  const { deleted: d, kept, remote, dryRun } = r.value;
  const what = [count(d.batch, 'batch record'), count(d.item, 'item record'), count(d.blob, 'stored output')];
  if (d.other) what.push(count(d.other, 'temporary file'));
  out(`cf: ${dryRun ? 'would delete' : 'deleted'} ${what.join(', ')} from ${remote}; kept ${count(kept, 'newer object')}${dryRun ? '; nothing was deleted' : ''}`);
  return 0;
}
