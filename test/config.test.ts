import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadPipeline } from '../src/config/loadPipeline.js';
import { registry } from '../src/config/registry.js';
import { registerSsi } from '../src/domains/ssi/index.js';
import { formatUserError } from '../src/util/errors.js';
import { Project, TWO_PHASES } from './helpers/project.js';

// pipeline.yaml is read here as cf reads it: with the SSi domain registered (app/session.ts).
registerSsi(registry);

let p: Project;
beforeEach(async () => {
  p = await Project.create({ seeds: 3 });
});
afterEach(async () => {
  await p.remove();
});

async function configError(yaml: string): Promise<string> {
  await p.write('pipeline.yaml', yaml);
  const r = await loadPipeline(p.dir);
  if (r.ok) throw new Error('expected a config error');
  return formatUserError(r.error);
}

describe('pipeline.yaml errors name the file, the line, the key path and a fix', () => {
  it('unknown keys are errors, with a did-you-mean', async () => {
    const msg = await configError(TWO_PHASES().replace('    intelligence: prompts/legos.md', '    intelligance: prompts/legos.md'));
    expect(msg).toContain('pipeline.yaml:15:5: phases[1].intelligance: unknown key "intelligance" (did you mean "intelligence"?)');
    const top = await configError(`batchsize: 10\n${TWO_PHASES()}`);
    expect(top).toContain('pipeline.yaml:1:1: batchsize: unknown key "batchsize" (did you mean "batch_size"?)');
    const runner = await configError(TWO_PHASES().replace('    timeout: 20s', '    timeuot: 20s'));
    expect(runner).toMatch(/pipeline.yaml:6:5: runners.fake.timeuot: unknown key "timeuot" \(did you mean "timeout"\?\)/);
  });

  it('wrong types and missing keys', async () => {
    expect(await configError(TWO_PHASES().replace('batch_size: 20', 'batch_size: twenty'))).toMatch(/pipeline.yaml:2:13: batch_size: .*expected number/);
    expect(await configError(TWO_PHASES().replace('    output: out/legos.json\n', ''))).toMatch(/pipeline.yaml:\d+:\d+: phases\[1\]\.output: this key is required/);
    expect(await configError(TWO_PHASES().replace('timeout: 20s', 'timeout: soon'))).toContain('runners.fake.timeout: expected a duration');
    expect(await configError(TWO_PHASES().replace('    output: out/legos.json', '    output: out/legos.json\n    max_output: 20 parsecs'))).toContain(
      'pipeline.yaml:18:17: phases[1].max_output: expected a size such as 20MB, 500kB, 1MiB or a number of bytes',
    );
  });

  it('max_output: a size, 20 MB by default', async () => {
    await p.write('pipeline.yaml', TWO_PHASES().replace('    output: out/legos.json', '    output: out/legos.json\n    max_output: 500kB'));
    const r = await loadPipeline(p.dir);
    expect(r.ok && r.value.phases.map((x) => x.maxOutput)).toEqual([20_000_000, 500_000]);
  });

  it('references: unknown runner, a later or unknown phase, missing files', async () => {
    expect(await configError(TWO_PHASES().replace('    runner: fake\n    output: out/legos.json', '    runner: fakr\n    output: out/legos.json'))).toContain(
      'phases[1].runner: unknown runner "fakr" (did you mean "fake"?)',
    );
    expect(await configError(TWO_PHASES().replace('from: seeds', 'from: legos'))).toContain('"legos" is a later phase');
    expect(await configError(TWO_PHASES().replace('from: pairs', 'from: pears'))).toContain('unknown phase "pears" (did you mean "pairs"?)');
    const missing = await configError(TWO_PHASES().replace('prompts/legos.md', 'prompts/lego.md'));
    expect(missing).toContain('pipeline.yaml:15:19: phases[1].intelligence: intelligence file prompts/lego.md does not exist');
    expect(await configError(TWO_PHASES().replace('seeds: seeds.json', 'seeds: seed.json'))).toContain('seeds: seeds file seed.json does not exist');
  });

  it('SSi settings: rule names, merge formats, runner kinds', async () => {
    const course = 'course: {code: spa_for_eng, target_language: spa, known_language: eng}\n';
    const sev = TWO_PHASES().replace('    output: out/legos.json', '    output: out/legos.json\n    validate: {rules: ssi:lego_pairs, severity: {tilling: warning}}');
    expect(await configError(sev)).toContain('phases[1].validate.severity.tilling: ssi:lego_pairs has no rule "tilling" (did you mean "tiling"?)');
    expect(await configError(TWO_PHASES().replace('    output: out/legos.json', '    output: out/legos.json\n    merge: ssi:lego_pairs'))).toContain(
      'phases[1].merge: an SSi merge needs the course it belongs to',
    );
    expect(await configError(course + TWO_PHASES().replace('    output: out/legos.json', '    output: out/legos.json\n    merge: ssi:lego_pair'))).toMatch(/phases\[1\]\.merge: /);
    expect(await configError(TWO_PHASES().replace('    timeout: 20s', '    timeout: 20s\n    recording: x.json'))).toContain('runners.fake.recording: "recording" does not apply to command runners');
    expect(await configError(TWO_PHASES().replace('    command: [node', '    kind: replay\n    command: [node'))).toContain('"command" does not apply to replay runners');
  });

  it('YAML syntax errors carry their line', async () => {
    expect(await configError('seeds: [unclosed\nphases: {}\n')).toMatch(/pipeline.yaml:\d+:\d+: not valid YAML/);
  });

  it('validate.lists may name only some categories (README: lists: {negation: {warning: [no]}})', async () => {
    await p.write('pipeline.yaml', TWO_PHASES().replace('    output: out/legos.json\n', '    output: out/legos.json\n    validate: {rules: ssi:lego_pairs, lists: {negation: {error: [no]}}}\n'));
    const r = await loadPipeline(p.dir);
    expect(r.ok, r.ok ? '' : formatUserError(r.error)).toBe(true);
    expect(await configError(TWO_PHASES().replace('    output: out/legos.json\n', '    output: out/legos.json\n    validate: {rules: ssi:lego_pairs, lists: {negaton: {error: [no]}}}\n'))).toContain('unknown key "negaton"');
  });
});

describe('bad input through the CLI: exit 2, nothing built is touched', () => {
  it('config and seed errors leave outputs and records alone', async () => {
    expect((await p.cf(['build'])).code).toBe(0);
    await p.takeRuns();
    const before = [await p.read('out/legos.json'), await p.read('.cf/records.log')];
    await p.write('pipeline.yaml', TWO_PHASES().replace('attempts', 'x').replace('    output: out/legos.json', '    output: out/legos.json\n    atempts: 2'));
    const r = await p.cf(['build']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('phases[1].atempts: unknown key "atempts" (did you mean "attempts"?)');
    expect(r.stdout).toBe('');
    await p.write('pipeline.yaml', TWO_PHASES());
    await p.write('seeds.json', '[\n  {"id": "S0001", "text": "a"},\n  {"id": "S0002", "text": "b"},\n  {"id": "S0001", "text": "c"}\n]\n');
    const dup = await p.cf(['build']);
    expect(dup.code).toBe(2);
    expect(dup.stderr).toContain('seeds.json:4: duplicate seed id "S0001" (first at line 2)');
    await p.write('seeds.json', '[{"text": "no id"}]');
    const noId = await p.cf(['status']);
    expect(noId.code).toBe(2);
    expect(noId.stderr).toContain('item 1 has no "id" string');
    expect([await p.read('out/legos.json'), await p.read('.cf/records.log')]).toEqual(before);
    expect(await p.takeRuns()).toEqual([]);
  });

  // Every command-line error the parser finds takes the same path to exit 2 (cli/main.ts): one here, the
  // others (a bad -j value, an unknown option...) in memory in args.test.ts.
  it('usage errors exit 2', async () => {
    const typo = await p.cf(['biuld']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('unknown command "biuld" (did you mean "build"?)');
    const noDir = await p.cf(['-C', p.file('nowhere'), 'build']);
    expect(noDir.code).toBe(2);
    expect(noDir.stderr).toContain('no pipeline.yaml here');
  });
});
