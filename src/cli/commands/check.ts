import { count } from '../../util/plural.js';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { detectKind, readCanonical, readDocument, readDocumentLenient } from '../../domains/ssi/formats.js';
import { languageName } from '../../domains/ssi/languageNames.js';
import { SSI_KINDS, type LegoPairsItem, type Pair, type RuleOptions, type RuleReport, type SeedPairItem, type SsiKind, type BasketsItem } from '../../domains/ssi/types.js';
import { checkBaskets, checkLegoPairs, checkSeedPairs, RULES } from '../../domains/ssi/validators.js';
import { suggestion } from '../../util/didYouMean.js';
import { fail } from '../../util/errors.js';
import { initHashing } from '../../util/hash.js';
import type { CheckCommandOptions, CheckOptions } from '../options.js';

async function readJson(file: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    fail({ kind: 'usage', message: `cannot read ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    fail({ kind: 'usage', message: `${file} is not valid JSON: ${(e as Error).message}` });
  }
}

async function readItems<T>(file: string, kind: SsiKind, what: string): Promise<T[]> {
  const r = readDocument(kind, await readJson(file, what));
  if (!r.ok) fail({ kind: 'usage', message: `${file}: ${r.error}` });
  return r.items as T[];
}

/** A companion file: the one named by an option, else the same-named sibling of the checked file if it exists. */
function companion(explicit: string | undefined, file: string, name: string, used: string[], dir: string): string | null {
  if (explicit) return path.resolve(dir, explicit);
  const sibling = path.join(path.dirname(file), name);
  if (path.resolve(sibling) !== path.resolve(file) && existsSync(sibling)) {
    used.push(`${path.relative(process.cwd(), sibling) || sibling} (beside it)`);
    return sibling;
  }
  return null;
}

function languageOf(doc: unknown, lang: string | undefined): string {
  if (lang) return lang;
  const d = (doc ?? {}) as Record<string, unknown>;
  if (typeof d.target_language === 'string') return d.target_language;
  const course = typeof d.course === 'string' ? d.course : '';
  const m = /^([a-z]{2,3})_for_/.exec(course);
  return m ? m[1]! : 'und';
}

/** `cf check FILE`: runs an SSi rule set on an existing file and reports per-rule counts and every failure (--phase: checkPhase.ts). */
export async function checkCommand(opts: CheckCommandOptions, args: string[], o: CheckOptions): Promise<number> {
  if (args.length !== 1) fail({ kind: 'usage', message: 'cf check takes one FILE', hint: 'cf check out/pairs.json --phase pairs, or cf check lego_pairs.json [--as lego_pairs] [--json]' });
  if (o.phase !== undefined) return (await import('./checkPhase.js')).checkPhaseCommand(opts, args[0]!, o);
  await initHashing();
  const file = path.resolve(opts.dir, args[0]!);
  const doc = await readJson(file, 'file');
  let kind: SsiKind;
  if (o.as) {
    if (!(SSI_KINDS as readonly string[]).includes(o.as)) fail({ kind: 'usage', message: `--as wants one of ${SSI_KINDS.join(', ')}, not "${o.as}"` });
    kind = o.as as SsiKind;
  } else {
    const k = detectKind(doc);
    if (!k) fail({ kind: 'usage', message: `${args[0]}: not an SSi file (${SSI_KINDS.join(', ')}) cf can tell from its content`, hint: `a phase's output: cf check ${args[0]} --phase NAME; an SSi file: --as ${SSI_KINDS.join(' | ')}` });
    kind = k;
  }
  // Malformed items are reported under "shape" and left out; the rest are checked.
  const r = readDocumentLenient(kind, doc);
  if (!r.ok) fail({ kind: 'usage', message: `${args[0]}: ${r.error}` });
  for (const rule of o.rules?.split(',').map((x) => x.trim()).filter(Boolean) ?? []) {
    if (!RULES[kind].includes(rule)) fail({ kind: 'usage', message: `${kind} has no rule "${rule}"${suggestion(rule, RULES[kind])}`, hint: `its rules: ${RULES[kind].join(', ')}` });
  }
  const language = languageOf(doc, o.lang);
  const used: string[] = [];
  const ruleOpts: RuleOptions = { language, ...(o.rules ? { only: o.rules.split(',').map((x) => x.trim()).filter(Boolean) } : {}) };
  let report: RuleReport;
  switch (kind) {
    case 'seed_pairs': {
      let canonical: Map<string, string> | undefined;
      if (o.seeds) {
        const name = o.targetName ?? languageName(language);
        const c = readCanonical(await readJson(path.resolve(opts.dir, o.seeds), 'seeds'), name);
        if (!c.ok) fail({ kind: 'usage', message: `${o.seeds}: ${c.error}`, hint: 'the canonical seeds are an array of {"seed_id", "source"} objects' });
        canonical = c.canonical;
        used.push(`${o.seeds} ({target} = ${name})`);
      }
      const known = typeof (doc as Record<string, unknown>).known_language === 'string' ? String((doc as Record<string, unknown>).known_language) : 'eng';
      report = checkSeedPairs(r.items as SeedPairItem[], { ...ruleOpts, ...(canonical ? { canonical } : {}), knownIsEnglish: /^(en|eng)$/i.test(known) });
      break;
    }
    case 'lego_pairs': {
      const sp = companion(o.seedPairs, file, 'seed_pairs.json', used, opts.dir);
      let seedPairs: Map<string, Pair> | undefined;
      if (sp) {
        if (o.seedPairs) used.push(o.seedPairs);
        seedPairs = new Map((await readItems<SeedPairItem>(sp, 'seed_pairs', 'seed pairs')).map((x) => [x.seed_id, { known: x.known, target: x.target }]));
      }
      report = checkLegoPairs(r.items as LegoPairsItem[], { ...ruleOpts, ...(seedPairs ? { seedPairs } : {}) });
      break;
    }
    case 'lego_baskets': {
      const lp = companion(o.legoPairs, file, 'lego_pairs.json', used, opts.dir);
      if (lp && o.legoPairs) used.push(o.legoPairs);
      const legoPairs = lp ? await readItems<LegoPairsItem>(lp, 'lego_pairs', 'LEGO pairs') : undefined;
      report = checkBaskets(r.items as BasketsItem[], { ...ruleOpts, ...(legoPairs ? { legoPairs } : {}) });
      break;
    }
  }
  if (r.bad.length) {
    const shape = (report.rules.shape ??= { checked: 0, failed: 0 });
    shape.checked += r.bad.length;
    shape.failed += r.bad.length;
    report.errors.unshift(...r.bad.map((b) => ({ seedId: b.seedId, type: 'shape', message: b.error, severity: 'error' as const })));
  }
  const errors = report.errors.filter((e) => e.severity === 'error');
  const shownFile = args[0]!;
  if (opts.json) {
    process.stdout.write(
      `${JSON.stringify({
        file: shownFile,
        kind,
        language,
        items: r.items.length + r.bad.length,
        rules: report.rules,
        errors: report.errors.map((e) => ({ seedId: e.seedId, ...(e.legoId ? { legoId: e.legoId } : {}), type: e.type, message: e.message, severity: e.severity })),
        ...(used.length ? { read: used } : {}),
      })}\n`,
    );
    return errors.length ? 1 : 0;
  }
  const out: string[] = [`${shownFile}: ${kind}, ${count(r.items.length + r.bad.length, 'seed')}, language ${language}${used.length ? `; also read ${used.join(', ')}` : ''}`];
  for (const w of r.warnings) out.push(`  note: ${w}`);
  const width = Math.max(4, ...Object.keys(report.rules).map((k) => k.length));
  out.push('', `${'rule'.padEnd(width)}  checked   failed   warned`);
  for (const [rule, c] of Object.entries(report.rules)) {
    out.push(`${rule.padEnd(width)}  ${String(c.checked).padStart(7)}  ${String(c.failed).padStart(7)}  ${String(c.warned ?? 0).padStart(7)}`);
  }
  for (const severity of ['error', 'warning'] as const) {
    const list = report.errors.filter((e) => e.severity === severity);
    if (!list.length) continue;
    out.push('', `${severity}s (${list.length}):`);
    for (const e of list) out.push(`  ${e.seedId}${e.legoId ? ` ${e.legoId}` : ''} [${e.type}] ${e.message}`);
  }
  const nWarn = report.errors.length - errors.length;
  const warnings = nWarn ? `, ${nWarn} warning${nWarn === 1 ? '' : 's'}` : '';
  out.push('', errors.length ? `cf check: ${errors.length} error${errors.length === 1 ? '' : 's'}${warnings}` : `cf check: no errors${warnings}`);
  process.stdout.write(`${out.join('\n')}\n`);
  return errors.length ? 1 : 0;
}
