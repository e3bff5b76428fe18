import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadPipeline } from '../src/config/loadPipeline.js';
import type { ContextState, Domain, MergeFormat } from '../src/config/plugins.js';
import { registry } from '../src/config/registry.js';
import type { Item } from '../src/config/seeds.js';
import { registerSsi } from '../src/domains/ssi/index.js';
import { takeHandEdits } from '../src/engine/handEdits.js';
import { createRunner } from '../src/exec/runners/index.js';
import type { AgentRequest } from '../src/exec/runners/types.js';
import { createValidator } from '../src/exec/validators.js';
import { formatUserError } from '../src/util/errors.js';
import { World } from './helpers/memory.js';
import { Project, TWO_PHASES } from './helpers/project.js';

/*
 * The registry is open: a domain cf has never heard of plugs in a merge format, a context kind, a rule set
 * and a document kind, and pipelines name them as they name the SSi ones.
 */

/** A CSV merge: "id,text" and one line per item. */
const lines: MergeFormat = {
  name: 'lines',
  timed: false,
  write: (items) => `${['id,text', ...items.map((it) => `${String(it.id)},${String(it.text)}`)].join('\n')}\n`,
  read(text) {
    const [head, ...rows] = text.trimEnd().split('\n');
    if (head !== 'id,text') return { ok: false, error: 'line 1: expected the header id,text' };
    return { ok: true, items: rows.map((r) => ({ id: r.slice(0, r.indexOf(',')), text: r.slice(r.indexOf(',') + 1) })), warnings: [] };
  },
};

/** How many letters the context phase's texts hold before an item: its records keep [id, letters] per item. */
class Letters implements ContextState {
  private readonly sums = [0];
  add(entries: unknown[]): void {
    for (const [, n] of entries as Array<[string, number]>) this.sums.push(this.sums.at(-1)! + n);
  }
  before(position: number): number {
    return this.sums[Math.min(position, this.sums.length - 1)]!;
  }
  at(position: number): { hash: string; words: number } {
    return { hash: `letters:${this.before(position)}`, words: this.before(position) };
  }
  spec(o: { phase: string; positions: readonly number[]; seedIds: readonly string[] }) {
    const first = Math.min(...o.positions);
    return { prompt: `## Context: ${this.before(first)} letters of ${o.phase} before ${o.seedIds[first]}\n` };
  }
  asInput(item: Item, position: number): Item {
    return { ...item, lettersBefore: this.before(position) };
  }
}

const csv: Domain = {
  namespace: 'csv',
  mergeFormats: [lines],
  documentKinds: [
    { name: 'csv_rows', detect: (doc) => typeof doc === 'object' && doc !== null && 'rows' in doc, read: (doc) => ({ ok: true, items: (doc as { rows: Item[] }).rows, warnings: [] }) },
  ],
  ruleSets: [
    {
      name: 'nonempty',
      rules: ['non_empty'],
      create: () => ({
        validate: async (req) => {
          const bad = req.items.filter((it) => !String(it.text ?? '').trim());
          return bad.length ? { kind: 'invalid', errors: bad.map((it) => ({ item: String(it.id), rule: 'non_empty', message: 'the text is empty' })) } : { kind: 'valid' };
        },
      }),
    },
  ],
  contextKinds: [
    {
      name: 'letters',
      index: (items, idField) => items.map((it) => [String(it[idField]), String(it.text ?? '').length]),
      stale: (entries) => entries === undefined,
      create: () => new Letters(),
    },
  ],
};

registerSsi(registry);
registry.use(csv);

describe('a made-up domain plugs into the registry', () => {
  it('its merge format, context kind and rule set build in memory: outputs, prompts, keys, validation, hand edits', async () => {
    const w = await World.create([{ name: 'a', merge: 'lines', rules: 'nonempty' }, { name: 'b', context: { letters: 'a' } }], 60);
    const first = await w.build();
    expect(first.agentRuns).toEqual(['a#1', 'a#2', 'a#3', 'b#1', 'b#2', 'b#3']);
    const merged = w.outputs.files.get('out/a.json')!.text;
    expect(merged.split('\n').slice(0, 3)).toEqual(['id,text', 'S0001,a(seed 1)', 'S0002,a(seed 2)']);
    // The context: its prompt section, its view of the input items, its hash in the keys.
    const letters = (n: number): number => Array.from({ length: n }, (_, i) => `a(seed ${i + 1})`.length).reduce((x, y) => x + y, 0);
    const b2 = w.runs.find((r) => r.target === 'b#2')!;
    expect(b2.prompt.task).toContain(`## Context: ${letters(20)} letters of a before S0021`);
    expect(b2.inputItems[0]).toMatchObject({ id: 'S0021', lettersBefore: letters(20) });
    expect((await w.build()).agentRuns).toEqual([]);
    w.editSeed('S0001', 'seed one, longer');
    expect((await w.build()).agentRuns).toEqual(['a#1', 'b#1', 'b#2', 'b#3']);

    // Its rule set validates the phase: an empty text is refused.
    w.agent = (req) => ({ ok: true, output: JSON.stringify(req.inputItems.map((it) => ({ id: it.id, text: it.id === 'S0030' ? '' : `${req.phase}(${String(it.text)})` }))) });
    w.editSeed('S0030', 'seed thirty, edited');
    const refused = await w.build();
    expect(refused.failed).toEqual(['a#2']);
    expect(w.events).toContainEqual(expect.objectContaining({ event: 'failed', target: 'a#2', errors: expect.arrayContaining([expect.objectContaining({ item: 'S0030', rule: 'non_empty', message: 'the text is empty' })]) }));
    w.agent = (req) => ({ ok: true, output: JSON.stringify(req.inputItems.map((it) => ({ id: it.id, text: `${req.phase}(${String(it.text)})` }))) });
    expect((await w.build()).failed).toEqual([]);

    // Its merged document edited by hand is read back with its format, and validated with its rule set.
    const edited = w.outputs.files.get('out/a.json')!.text.replace('S0002,a(seed 2)', 'S0002,a(corrected)');
    await w.outputs.write('out/a.json', edited);
    const decider = await w.decider();
    const pipeline = decider.graph.pipeline;
    const taken = await takeHandEdits({
      decider,
      outputs: w.outputs,
      phases: decider.graph.phases,
      executor: w.executor({ validatorFor: (phase) => createValidator(phase, pipeline) }),
      runDir: () => null,
      signal: new AbortController().signal,
    });
    expect(taken).toMatchObject([{ phase: 'a', taken: ['a#1'], rejected: [] }]);
    const after = await w.build();
    expect(after.agentRuns).toContain('b#1');
    expect(w.output('b')[1]).toEqual({ id: 'S0002', text: 'b(a(corrected))' });
  });
});

describe('pipeline.yaml names a registered domain\'s kinds as it names the SSi ones', () => {
  let p: Project;
  beforeEach(async () => {
    p = await Project.create({ seeds: 3, files: { 'rec.json': '{"rows": [{"id": "S0002", "text": "recorded"}]}' } });
  });
  afterEach(async () => {
    await p.remove();
  });
  const withPhase = (lines: string, runner = ''): string =>
    TWO_PHASES().replace('phases:\n', `${runner}phases:\n`).replace('    output: out/legos.json\n', `    output: out/legos.json\n${lines}`);
  async function configError(yaml: string): Promise<string> {
    await p.write('pipeline.yaml', yaml);
    const r = await loadPipeline(p.dir);
    if (r.ok) throw new Error('expected a config error');
    return formatUserError(r.error);
  }

  it('parsed: its merge format, rule set (with a severity), context kind and document kind (a replay recording)', async () => {
    const runner = '  rec:\n    kind: replay\n    recording: rec.json\n    as: csv_rows\n';
    await p.write('pipeline.yaml', withPhase('    merge: csv:lines\n    validate: {rules: csv:nonempty, severity: {non_empty: warning}}\n    context: {letters: pairs}\n', runner));
    const r = await loadPipeline(p.dir);
    expect(r.ok, r.ok ? '' : formatUserError(r.error)).toBe(true);
    if (!r.ok) return;
    expect(r.value.phases[1]).toMatchObject({ merge: { format: 'lines' }, validate: { rules: 'nonempty', severity: { non_empty: 'warning' } }, context: { kind: 'letters', phase: 'pairs' } });
    expect(r.value.runners.get('rec')).toMatchObject({ kind: 'replay', as: 'csv_rows' });
    const replay = createRunner(r.value.runners.get('rec')!, r.value);
    const answer = await replay.run({ inputItems: [{ id: 'S0001' }, { id: 'S0002' }] } as unknown as AgentRequest);
    expect(answer.ok && JSON.parse(answer.output ?? '')).toEqual([{ id: 'S0002', text: 'recorded' }]);
  });

  it('refused, naming what is registered: unknown rule, unknown rule set, two contexts at once', async () => {
    expect(await configError(withPhase('    validate: {rules: csv:nonempty, severity: {nonempty: warning}}\n'))).toContain(
      'phases[1].validate.severity.nonempty: csv:nonempty has no rule "nonempty" (did you mean "non_empty"?)',
    );
    // Every registered rule set is listed (other test files in this process may have registered more).
    const listed = /phases\[1\]\.validate\.rules: expected (.*)/.exec(await configError(withPhase('    validate: {rules: csv:nonempt}\n')))?.[1]?.split(', ');
    expect(listed).toEqual(expect.arrayContaining(['ssi:seed_pairs', 'ssi:lego_pairs', 'ssi:lego_baskets', 'csv:nonempty']));
    const contexts = /phases\[1\]\.context: name one context: (.*)/.exec(await configError(withPhase('    context: {letters: pairs, vocabulary: pairs}\n')))?.[1]?.split(', ');
    expect(contexts).toEqual(expect.arrayContaining(['vocabulary', 'letters']));
    expect(await configError(withPhase('    context: {letter: pairs}\n'))).toContain('phases[1].context.letter: unknown key "letter" (did you mean "letters"?)');
  });
});
