import path from 'node:path';
import { suggestion } from '../../util/didYouMean.js';
import { fail } from '../../util/errors.js';
import { scaffold } from '../init/scaffold.js';
import { TEMPLATES, type TemplateName } from '../init/templates.js';
import type { InitOptions } from '../options.js';
import { packageRoot } from '../packageRoot.js';

/** What to run next in a new project, per template (the command, then what it does). */
const NEXT: Record<TemplateName, Array<[string, string]>> = {
  minimal: [
    ['cf build', 'build out/headlines.json (offline: the agent is agent/agent.mjs)'],
    ['cf status', 'what is fresh, stale or failed'],
    ['cf explain headlines', 'why a target is fresh or would run'],
    ['cf graph', 'the phases and what each reads'],
  ],
  course: [
    ['cf build', 'build the course into vfs/courses/spa_for_eng_demo/ (offline, scripted agent)'],
    ['cf status', 'what is fresh, stale or failed'],
    ['cf graph', 'the phases and what each reads'],
  ],
};

/** `cf init [DIR]`: a working pipeline in a new or empty directory, from one of cf's templates. */
export async function initCommand(opts: InitOptions, args: string[], root = packageRoot()): Promise<number> {
  if (args.length > 1) fail({ kind: 'usage', message: 'cf init takes one DIR', hint: 'cf init my-pipeline [--template minimal|course]' });
  const name = opts.template ?? 'minimal';
  if (!(TEMPLATES as readonly string[]).includes(name)) fail({ kind: 'usage', message: `unknown template "${name}"${suggestion(name, [...TEMPLATES])}`, hint: `templates: ${TEMPLATES.join(', ')}` });
  const template = name as TemplateName;
  if (!root) fail({ kind: 'usage', message: "cannot find cf's templates (cf runs from outside its package)", hint: 'reinstall cf' });
  const dir = path.resolve(opts.dir, args[0] ?? '.');
  // Relative to where cf runs when inside it, else absolute (not ../../tmp/x).
  const shown = (file: string): string => {
    const rel = path.relative(process.cwd(), file);
    return rel === '' ? '.' : rel.startsWith('..') || path.isAbsolute(rel) ? file : rel;
  };
  const r = await scaffold(root, template, dir, shown);
  if (!r.ok) fail(r.error);
  const where = shown(dir);
  const width = Math.max(...NEXT[template].map(([c]) => c.length)) + 2;
  const lines = [
    `cf init: created ${r.value.created.length} files in ${where === '.' ? 'this directory' : `${where}/`} (template ${template}):`,
    ...r.value.created.map((f) => `  ${f}`),
    '',
    'next:',
    ...(where === '.' ? [] : [`  cd ${where.includes(' ') ? JSON.stringify(where) : where}`]),
    ...NEXT[template].map(([c, what]) => `  ${c.padEnd(width)}${what}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
