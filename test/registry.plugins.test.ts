import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadInputs } from '../src/app/inputs.js';
import { Workspace } from '../src/app/workspace.js';
import { loadPipeline } from '../src/config/loadPipeline.js';
import type { Domain, RuleSet, RunnerPlugin } from '../src/config/plugins.js';
import { registry } from '../src/config/registry.js';
import type { BuildEvent } from '../src/events/types.js';
import type { AgentRequest } from '../src/exec/runners/types.js';
import { createValidator } from '../src/exec/validators.js';
import { LocalStore } from '../src/store/localStore.js';
import { formatUserError } from '../src/util/errors.js';
import { ok } from '../src/util/result.js';
import { Project } from './helpers/project.js';

/*
 * Runner kinds are open: a domain cf has never heard of registers one, pipeline.yaml names it
 * `<namespace>:<name>` with its settings under `options:`, and a build runs its runner, keyed by its options.
 * A domain's rule set (its validator kind) takes options the same way.
 */

/** What the made-up runner was asked: each request, with the options its runner was made with. */
const asked: Array<{ prefix: string; phase: string; ids: string[] }> = [];

/** Answers every item with its text behind `prefix` (options: {prefix: string, shout?: boolean}). */
const echo: RunnerPlugin<{ prefix: string; shout: boolean }> = {
  name: 'echo',
  options(raw, fail) {
    if (typeof raw.prefix !== 'string') return fail(['prefix'], 'expected the text put before each answer', 'e.g. prefix: ">> "');
    if (raw.shout !== undefined && typeof raw.shout !== 'boolean') return fail(['shout'], 'expected true or false');
    const unknown = Object.keys(raw).find((k) => k !== 'prefix' && k !== 'shout');
    if (unknown) return fail([unknown], `"${unknown}" is not an option of made:echo`, 'its options: prefix, shout');
    return ok({ prefix: raw.prefix, shout: raw.shout === true });
  },
  create: (config) => ({
    delivery: 'reply',
    async run(req: AgentRequest) {
      asked.push({ prefix: config.options.prefix, phase: req.phase, ids: req.inputItems.map((it) => String(it.id)) });
      const say = (t: string): string => (config.options.shout ? t.toUpperCase() : t);
      return { ok: true, output: JSON.stringify(req.inputItems.map((it) => ({ id: it.id, text: say(`${config.options.prefix}${String(it.text)}`) }))) };
    },
  }),
};

/** Refuses texts longer than `max` (options: {max: number}). */
const lengths: RuleSet = {
  name: 'lengths',
  rules: ['too_long'],
  options: (raw, fail) => (typeof raw.max === 'number' && raw.max > 0 ? ok({ max: raw.max }) : fail(['max'], 'expected the longest text allowed, a number of characters')),
  create: (config) => ({
    async validate(req) {
      const { max } = config.options as { max: number };
      const long = req.items.filter((it) => String(it.text).length > max);
      return long.length ? { kind: 'invalid', errors: long.map((it) => ({ item: String(it.id), rule: 'too_long', message: `longer than ${max}` })) } : { kind: 'valid' };
    },
  }),
};
/** A rule set that takes no options. */
const anything: RuleSet = { name: 'anything', rules: [], create: () => ({ validate: async () => ({ kind: 'valid' }) }) };

const made: Domain = { namespace: 'made', runnerKinds: [echo], ruleSets: [lengths, anything] };
registry.use(made);

const PIPELINE = (runner: string): string => `seeds: seeds.json
batch_size: 2
runners:
  echo:
    kind: made:echo
${runner}phases:
  - name: pairs
    intelligence: prompts/pairs.md
    runner: echo
    output: out/pairs.json
`;

let p: Project;
beforeEach(async () => {
  p = await Project.create({ seeds: 3, pipeline: PIPELINE('    options: {prefix: "> "}\n') });
  asked.length = 0;
});
afterEach(async () => {
  await p.remove();
});

async function build(): Promise<string[]> {
  const ws = await Workspace.open(p.dir, { local: false });
  if (!ws.ok) throw new Error(formatUserError(ws.error));
  const events: BuildEvent[] = [];
  const requests = ws.value.targets([]);
  if (!requests.ok) throw new Error(formatUserError(requests.error));
  const r = await ws.value.build(requests.value, { emit: (e) => events.push(e), signal: new AbortController().signal });
  if (!r.ok) throw new Error(formatUserError(r.error));
  expect(r.value.summary.failed).toEqual([]);
  return events.flatMap((e) => (e.event === 'started' ? [e.target] : []));
}

async function keys(): Promise<string[]> {
  const inputs = await loadInputs(p.dir);
  if (!inputs.ok) throw new Error(formatUserError(inputs.error));
  const d = inputs.value.decider(LocalStore.memory());
  return [1, 2].map((b) => d.keyFor(d.graph.phases[0]!, d.seedRefs(b)));
}

async function configError(yaml: string): Promise<string> {
  await p.write('pipeline.yaml', yaml);
  const r = await loadPipeline(p.dir);
  if (r.ok) throw new Error('expected a config error');
  return formatUserError(r.error);
}

describe('a registered runner kind', () => {
  it('builds a pipeline that names it: its runner answers, with the options pipeline.yaml gives', async () => {
    expect(await build()).toEqual(['pairs#1', 'pairs#2']);
    expect(asked).toEqual([
      { prefix: '> ', phase: 'pairs', ids: ['S0001', 'S0002'] },
      { prefix: '> ', phase: 'pairs', ids: ['S0003'] },
    ]);
    expect(JSON.parse(await p.read('out/pairs.json'))).toEqual([
      { id: 'S0001', text: '> seed number 1' },
      { id: 'S0002', text: '> seed number 2' },
      { id: 'S0003', text: '> seed number 3' },
    ]);
    expect(await build()).toEqual([]);
  });

  it('its options are part of the keys; the settings every runner has that do not shape answers are not', async () => {
    const before = await keys();
    await p.write('pipeline.yaml', PIPELINE('    timeout: 5m\n    limits: {concurrency: 1}\n    options: {prefix: "> "}\n'));
    expect(await keys()).toEqual(before);
    await p.write('pipeline.yaml', PIPELINE('    options: {prefix: "> ", shout: true}\n'));
    const shouting = await keys();
    expect(shouting[0]).not.toEqual(before[0]);
    await p.write('pipeline.yaml', PIPELINE('    env: {TONE: dry}\n    options: {prefix: "> ", shout: true}\n'));
    expect((await keys())[0]).not.toEqual(shouting[0]);
  });

  it('a bad option is reported by its kind, at its line in pipeline.yaml', async () => {
    const wrong = await configError(PIPELINE('    options: {prefix: 3}\n'));
    expect(wrong).toContain('pipeline.yaml:6:23: runners.echo.options.prefix: expected the text put before each answer');
    expect(wrong).toContain('hint: e.g. prefix: ">> "');
    expect(await configError(PIPELINE('    options: {prefix: ">", colour: red}\n'))).toContain('pipeline.yaml:6:36: runners.echo.options.colour: "colour" is not an option of made:echo');
    expect(await configError(PIPELINE('    options:\n      prefix: ">"\n      shout: loud\n'))).toContain('pipeline.yaml:8:14: runners.echo.options.shout: expected true or false');
    expect(await configError(PIPELINE(''))).toContain('pipeline.yaml:5:5: runners.echo.options.prefix: expected the text put before each answer');
  });

  it("the keys of cf's own kinds are refused on it, and its options on them", async () => {
    expect(await configError(PIPELINE('    command: [node, agent.js]\n    options: {prefix: ">"}\n'))).toContain(
      'pipeline.yaml:6:14: runners.echo.command: "command" does not apply to made:echo runners',
    );
    const onCommand = PIPELINE('').replace('    kind: made:echo\n', '    command: [node, agent.js]\n    options: {prefix: ">"}\n');
    expect(await configError(onCommand)).toContain('runners.echo.options: "options" does not apply to command runners');
  });

  it('an unknown kind is refused with a did-you-mean, naming the kinds registered', async () => {
    const msg = await configError(PIPELINE('    options: {prefix: ">"}\n').replace('made:echo', 'made:ecko'));
    expect(msg).toContain('pipeline.yaml:5:11: runners.echo.kind: unknown runner kind "made:ecko" (did you mean "made:echo"?)');
    expect(msg).toMatch(/hint: runner kinds: command, replay, anthropic, openai, .*made:echo/);
  });
});

describe("a registered rule set's options", () => {
  const withValidate = (validate: string): string => `${PIPELINE('    options: {prefix: "> "}\n')}    validate: ${validate}\n`;

  it('are checked by the rule set, given to its validators, and part of the keys', async () => {
    await p.write('pipeline.yaml', withValidate('{rules: made:lengths, options: {max: 16}}'));
    const r = await loadPipeline(p.dir);
    if (!r.ok) throw new Error(formatUserError(r.error));
    const phase = r.value.phases[0]!;
    expect(phase.validate).toMatchObject({ rules: 'lengths', options: { max: 16 } });
    const validator = createValidator(phase, r.value)!;
    const items = [{ id: 'S0001', text: '> seed number 1' }, { id: 'S0002', text: '> seed number 2, longer' }];
    expect(await validator.validate({ items } as never)).toEqual({ kind: 'invalid', errors: [{ item: 'S0002', rule: 'too_long', message: 'longer than 16' }] });
    const before = await keys();
    await p.write('pipeline.yaml', withValidate('{rules: made:lengths, options: {max: 80}}'));
    expect((await keys())[0]).not.toEqual(before[0]);
  });

  it('are refused where they do not belong, and a bad one is reported at its line', async () => {
    expect(await configError(withValidate('{rules: made:lengths, options: {max: -1}}'))).toContain(
      'pipeline.yaml:12:52: phases[0].validate.options.max: expected the longest text allowed, a number of characters',
    );
    expect(await configError(withValidate('made:lengths'))).toContain('pipeline.yaml:12:15: phases[0].validate.options.max: expected the longest text allowed');
    expect(await configError(withValidate('{rules: made:anything, options: {max: 3}}'))).toContain('phases[0].validate.options: made:anything takes no options');
    expect(await configError(withValidate('{command: [node, check.js], options: {max: 3}}'))).toContain(
      'phases[0].validate.options: options are the settings of a rule set: this validator names none',
    );
  });
});
