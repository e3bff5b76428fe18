import { correct, correctionStates, dropCorrections, keepCorrections, type CorrectionChange, type CorrectionOutcome, type CorrectionState } from '../../app/corrections.js';
import type { Item } from '../../config/seeds.js';
import { fail } from '../../util/errors.js';
import type { CorrectionsValues, CorrectOptions, CorrectValues } from '../options.js';
import { formatErrors } from '../reporters.js';
import { openWorkspace } from '../workspace.js';

function json(option: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    return fail({ kind: 'usage', message: `${option} wants JSON: ${(e as Error).message}`, hint: `quote it for the shell, e.g. ${option} '{"text": "…"}' or ${option} '"a string"'` });
  }
}

/** What --set, or --pointer with --value, say. */
function changeOf(v: CorrectValues): CorrectionChange {
  if ((v.set === undefined) === (v.pointer === undefined)) fail({ kind: 'usage', message: 'cf correct takes --set JSON (the whole item) or --pointer /p with --value JSON', hint: "cf correct pairs S0005 --pointer /text --value '\"corrected\"'" });
  if (v.set !== undefined) {
    if (v.value !== undefined) fail({ kind: 'usage', message: '--value goes with --pointer, not --set', hint: 'cf help correct' });
    const item = json('--set', v.set);
    if (item === null || typeof item !== 'object' || Array.isArray(item)) fail({ kind: 'usage', message: '--set wants the whole item, a JSON object', hint: 'cf help correct' });
    return { set: item as Item };
  }
  if (!v.pointer!.startsWith('/')) fail({ kind: 'usage', message: `--pointer wants a JSON pointer starting with "/", not "${v.pointer}"`, hint: 'e.g. --pointer /known, or /legos/0/lego/target' });
  if (v.value === undefined) fail({ kind: 'usage', message: '--pointer needs --value JSON', hint: 'cf help correct' });
  return { pointer: v.pointer!, value: json('--value', v.value!) };
}

function report(opts: CorrectOptions, what: string, r: CorrectionOutcome): number {
  if (r.kind === 'error') fail(r.error);
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return r.kind === 'saved' ? 0 : 1;
  }
  if (r.kind === 'invalid') {
    process.stdout.write(`cf: ${what} refused: ${r.target} with it does not pass the phase's validation:\n${formatErrors(r.errors)}\n`);
    return 1;
  }
  process.stdout.write(`cf: ${what}: saved in ${r.file}; cf build applies it (the batches that read the item run again)\n`);
  return 0;
}

/** `cf correct PHASE ID (--set JSON | --pointer /p --value JSON) [--author A]`. */
export async function correctCommand(opts: CorrectOptions, args: string[], v: CorrectValues): Promise<number> {
  if (args.length !== 2) fail({ kind: 'usage', message: 'cf correct takes a phase and an item id', hint: "cf correct pairs S0005 --set '{…}'" });
  const [phase, id] = args as [string, string];
  const change = changeOf(v);
  const ws = await openWorkspace(opts.dir);
  return report(opts, `corrected ${id} of ${phase}`, await correct(ws, { phase, id, change, ...(v.author ? { author: v.author } : {}) }));
}

/** A correction's state in words (cf corrections, cf status). */
export function describeCorrection(c: CorrectionState): string {
  const what = c.set !== undefined ? 'the whole item' : `${c.pointer} = ${JSON.stringify(c.value)}`;
  const state =
    c.state === 'older'
      ? `; made against an older generation (the item was generated again): cf corrections ${c.phase} --keep ${c.id} or --drop ${c.id}`
      : c.state === 'conflict'
        ? `; not applied: ${c.pointer} names no place in the item generated now (cf corrections ${c.phase} --drop ${c.id})`
        : c.state === 'orphan'
          ? '; no seed has this id any more'
          : '';
  return `${c.phase} ${c.id}${c.target ? ` (${c.target})` : ''}: ${what}, by ${c.author} at ${c.at}${state}`;
}

/** `cf corrections [PHASE] [--keep ID | --drop ID]`. */
export async function correctionsCommand(opts: CorrectOptions, args: string[], v: CorrectionsValues): Promise<number> {
  if (args.length > 1) fail({ kind: 'usage', message: 'cf corrections takes at most one phase', hint: 'cf corrections pairs --keep S0005' });
  if (v.keep !== undefined && v.drop !== undefined) fail({ kind: 'usage', message: 'cf corrections takes --keep or --drop, not both', hint: 'cf help corrections' });
  const [phase] = args;
  const ws = await openWorkspace(opts.dir);
  if (phase && !ws.inputs.graph.phases.some((p) => p.name === phase)) fail({ kind: 'usage', message: `no phase "${phase}"`, hint: `phases: ${ws.inputs.graph.phases.map((p) => p.name).join(', ')}` });
  const id = v.keep ?? v.drop;
  if (id !== undefined) {
    if (!phase) fail({ kind: 'usage', message: `--${v.keep !== undefined ? 'keep' : 'drop'} wants the phase too`, hint: `cf corrections PHASE --${v.keep !== undefined ? 'keep' : 'drop'} ${id}` });
    if (v.keep !== undefined) return report(opts, `kept the corrections of ${id} in ${phase} for the item generated now`, await keepCorrections(ws, { phase: phase!, id }));
    const r = await dropCorrections(ws, { phase: phase!, id });
    if ('error' in r) fail(r.error);
    if (opts.json) process.stdout.write(`${JSON.stringify(r)}\n`);
    else process.stdout.write(`cf: dropped ${r.dropped} correction${r.dropped === 1 ? '' : 's'} of ${id} from ${r.file}; cf build shows it as generated again\n`);
    return 0;
  }
  const states = await correctionStates(ws, phase);
  if (opts.json) process.stdout.write(`${JSON.stringify({ corrections: states })}\n`);
  else if (!states.length) process.stdout.write(`cf: no corrections${phase ? ` of ${phase}` : ''}\n`);
  else process.stdout.write(`${states.map(describeCorrection).join('\n')}\n`);
  return 0;
}
