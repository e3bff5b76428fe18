import path from 'node:path';
import { checkPhaseFile, type BatchCheck } from '../../app/checkPhase.js';
import { describeError } from '../../exec/validate.js';
import { fail } from '../../util/errors.js';
import { count } from '../../util/plural.js';
import type { CheckCommandOptions, CheckOptions } from '../options.js';
import { namedPhase, readPhaseFile } from '../phaseFile.js';
import { openWorkspace } from '../workspace.js';

/** The SSi options, which say how to check an SSi file: the phase's own validation decides with --phase. */
const SSI_ONLY: Array<[keyof CheckOptions, string]> = [
  ['as', '--as'],
  ['rules', '--rules'],
  ['lang', '--lang'],
  ['seeds', '--seeds'],
  ['targetName', '--target-name'],
  ['seedPairs', '--seed-pairs'],
  ['legoPairs', '--lego-pairs'],
];

/** `cf check FILE --phase NAME`: FILE as the phase's output, each batch checked as a build checks an answer. */
export async function checkPhaseCommand(opts: CheckCommandOptions, file: string, o: CheckOptions): Promise<number> {
  const other = SSI_ONLY.filter(([k]) => o[k] !== undefined).map(([, flag]) => flag);
  if (other.length) fail({ kind: 'usage', message: `${other.join(', ')} ${other.length === 1 ? 'is' : 'are'} for SSi files: with --phase, the phase's own schema and validators decide`, hint: `cf check ${file} --phase ${o.phase}` });
  const ws = await openWorkspace(opts.dir);
  const phase = namedPhase(ws, o.phase!);
  const items = await readPhaseFile(phase, path.resolve(opts.dir, file), file);
  const report = await checkPhaseFile(ws, phase, items);
  const invalid = report.batches.filter((b) => b.kind === 'invalid');
  const unchecked = report.batches.filter((b) => b.kind === 'not-checked');
  const code = invalid.length || unchecked.length ? 1 : 0;
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ file, items: items.length, ...report, exitCode: code })}\n`);
    return code;
  }
  const out = [`${file}: ${count(items.length, 'item')}, checked as the output of ${phase.name} (${count(report.batches.length, 'batch', 'batches')})`];
  if (report.unknownIds.length) {
    const n = report.unknownIds.length;
    out.push(`  note: ${count(n, 'item')} ${n === 1 ? 'matches' : 'match'} no seed and ${n === 1 ? 'was' : 'were'} not checked (${report.unknownIds.slice(0, 5).join(', ')}${n > 5 ? ', …' : ''})`);
  }
  for (const b of report.batches) out.push(...batchLines(b));
  const errors = invalid.reduce((n, b) => n + (b.kind === 'invalid' ? b.errors.length : 0), 0);
  const warnings = report.batches.reduce((n, b) => n + (b.kind === 'not-checked' ? 0 : b.warnings.length), 0);
  const parts = [
    errors ? `${count(errors, 'error')} in ${invalid.length} of ${count(report.batches.length, 'batch', 'batches')}` : 'no errors',
    ...(warnings ? [count(warnings, 'warning')] : []),
    ...(unchecked.length ? [`${unchecked.length} ${unchecked.length === 1 ? 'batch' : 'batches'} not checked`] : []),
  ];
  out.push('', `cf check: ${parts.join(', ')}`);
  process.stdout.write(`${out.join('\n')}\n`);
  return code;
}

/** A batch's lines: nothing for a valid one without warnings; every error and warning otherwise. */
function batchLines(b: BatchCheck): string[] {
  switch (b.kind) {
    case 'not-checked':
      return [`  ${b.target}: not checked: ${b.reason}`];
    case 'invalid':
      return [`  ${b.target}: ${count(b.errors.length, 'error')}`, ...b.errors.map((e) => `    ${describeError(e)}`), ...b.warnings.map((w) => `    warning: ${describeError(w)}`)];
    case 'valid':
      return b.warnings.length ? [`  ${b.target}: ${count(b.warnings.length, 'warning')}`, ...b.warnings.map((w) => `    warning: ${describeError(w)}`)] : [];
  }
}
