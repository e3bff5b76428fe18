import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { watchedFiles } from '../src/app/inputs.js';
import { phaseParts } from '../src/engine/fingerprint.js';
import type { Hash } from '../src/util/hash.js';
import { describeStatus } from '../src/cli/format/statuses.js';
import type { Item } from '../src/config/seeds.js';
import { formatUserError, type UserError } from '../src/util/errors.js';
import { TWO_PHASES } from './helpers/project.js';
import { Bench, echoAnswer } from './helpers/workspace.js';

/*
 * A phase's item schema (`schema:` in pipeline.yaml) through the composed Workspace in memory: every item
 * checked against it before the phase's own validator, an answer that violates it retried with errors naming
 * the item and the JSON pointer, its content part of the keys (an edit reruns the phase, a reformatting
 * does not), and the errors of a schema that cannot be used, at their file and line.
 */

const SCHEMA = `{
  "type": "object",
  "properties": {
    "id": { "type": "string" },
    "text": { "type": "string", "pattern": "^legos\\\\(" }
  },
  "required": ["id", "text"],
  "additionalProperties": false
}
`;

let bench: Bench | undefined;
afterEach(async () => {
  await bench?.remove();
  bench = undefined;
});

/** TWO_PHASES (pairs → legos) with `schema:` on legos (the last phase: TWO_PHASES appends to it). */
async function withSchema(schema = 'schemas/legos.json', files: Record<string, string> = { 'schemas/legos.json': SCHEMA }, seeds = 20): Promise<Bench> {
  bench = await Bench.create({ seeds, pipeline: TWO_PHASES(`    schema: ${schema}\n`), files });
  return bench;
}

async function refused(b: Bench): Promise<UserError> {
  const r = await b.tryOpen();
  if (r.ok) throw new Error('the workspace opened');
  return r.error;
}

/** The error as cf prints it, with the bench's directory (files are shown relative to where cf runs) left out. */
async function printed(b: Bench): Promise<string> {
  return formatUserError(await refused(b)).replaceAll(`${path.relative(process.cwd(), b.dir)}/`, '');
}

describe('a phase with an item schema', () => {
  it('retries an answer that violates it, naming the item and the pointer in the next prompt; a valid answer passes', async () => {
    const b = await withSchema();
    b.agent = (req) => {
      const items = JSON.parse(echoAnswer(req)) as Item[];
      if (req.phase === 'legos' && req.attempt === 1) {
        items[2]!.text = 5;
        items[4]!.extra = true;
      }
      return { ok: true, output: JSON.stringify(items) };
    };
    const r = await b.build();
    expect(r.exitCode).toBe(0);
    expect(r.runs.map((x) => `${x.target}/${x.attempt}`)).toEqual(['pairs#1/1', 'legos#1/1', 'legos#1/2']);
    const retried = r.events.find((e) => e.event === 'retried');
    expect(retried).toMatchObject({
      target: 'legos#1',
      errors: [
        { item: 'S0003', message: '/text: must be a string, not 5', source: 'validator' },
        { item: 'S0005', message: 'has the property "extra", which the schema does not allow', source: 'validator' },
      ],
    });
    const prompt = r.runs.find((x) => x.target === 'legos#1' && x.attempt === 2)!.prompt;
    expect(prompt).toContain('- S0003: /text: must be a string, not 5\n- S0005: has the property "extra", which the schema does not allow');
    expect(JSON.parse(b.output('out/legos.json')!)).toHaveLength(20);
  });

  it('items: independent: only the items its errors name go back to the agent', async () => {
    bench = await Bench.create({ seeds: 20, pipeline: TWO_PHASES('    items: independent\n    schema: schemas/legos.json\n'), files: { 'schemas/legos.json': SCHEMA } });
    bench.agent = (req) => {
      const items = JSON.parse(echoAnswer(req)) as Item[];
      if (req.phase === 'legos' && req.attempt === 1) items[2]!.text = 'not legos';
      return { ok: true, output: JSON.stringify(items) };
    };
    const r = await bench.build();
    expect(r.exitCode).toBe(0);
    const retry = r.runs.find((x) => x.phase === 'legos' && x.attempt === 2)!;
    expect(retry.ids).toEqual(['S0003']);
    expect(retry.prompt).toContain('- S0003: /text: must match ^legos\\(, not "not legos"');
  });

  it('is part of the keys: an edit reruns the phase ("the schema changed"), a reformatting or a touch does not; cf watch reads it again', async () => {
    const b = await withSchema();
    expect((await b.build()).exitCode).toBe(0);
    const ws = await b.open();
    expect(watchedFiles(ws.pipeline)).toContain(b.file('schemas/legos.json'));

    // The same schema, keys reordered and reformatted: nothing to run.
    const same = JSON.parse(SCHEMA) as Record<string, unknown>;
    await b.write('schemas/legos.json', JSON.stringify({ required: same.required, additionalProperties: false, properties: same.properties, type: 'object' }));
    expect((await b.dryRun()).rows.filter((row) => row.kind !== 'fresh')).toEqual([]);
    expect((await b.build()).runs).toEqual([]);

    // Another schema: legos reruns (pairs does not), for the reason the dry run and the events give as data.
    await b.write('schemas/legos.json', SCHEMA.replace('"id": { "type": "string" }', '"id": { "type": "string", "minLength": 1 }'));
    const dry = await b.dryRun();
    const row = (t: string) => dry.rows.find((s) => s.target === t)!;
    expect(row('pairs#1').kind).toBe('fresh');
    expect(row('legos#1')).toMatchObject({ kind: 'stale', reasons: [{ kind: 'schema', what: 'changed' }] });
    expect(describeStatus(row('legos#1'))).toBe('the schema changed');
    // As cf watch opens the workspace again: with its pipeline.yaml as parsed before, the schema file read anew.
    const again = await b.tryOpen({ pipeline: ws.pipeline });
    expect(again.ok && again.value.pipeline.phases[1]!.schema!.hash).not.toBe(ws.pipeline.phases[1]!.schema!.hash);
    const r = await b.build();
    expect(r.ran).toEqual(['legos#1']);
    expect(r.events.find((e) => e.event === 'started')).toMatchObject({ why: [{ kind: 'schema', what: 'changed' }] });
  });

  it('a phase of an SSi kind gets its kind\'s schema without schema:, or by name', async () => {
    const pipeline = (schema: string) => `seeds: seeds.json
course: {code: spa_for_eng, target_language: spa, known_language: eng}
runners: {fake: {command: "true"}}
phases:
  - name: seed_pairs
    intelligence: prompts/pairs.md
    runner: fake
    output: out/seed_pairs.json
    merge: ssi:seed_pairs
  - name: legos
    intelligence: prompts/legos.md
    runner: fake
    output: out/legos.json
${schema}`;
    bench = await Bench.create({ pipeline: pipeline('    schema: ssi:lego_pairs\n') });
    const ws = await bench.open();
    expect(ws.pipeline.phases.map((p) => p.schema?.from)).toEqual([{ kind: 'ssi:seed_pairs' }, { kind: 'ssi:lego_pairs' }]);
    // The kind's default checks items but is not keyed (an upgraded cf reruns no batch of an existing
    // course); the schema pipeline.yaml names is.
    const parts = await Promise.all(ws.pipeline.phases.map((p) => phaseParts(ws.pipeline, p, async () => 'h' as Hash)));
    expect(parts.map((p) => p.schema !== undefined)).toEqual([false, true]);
    await bench.write('pipeline.yaml', pipeline('    schema: ssi:lego_pair\n'));
    expect(await printed(bench)).toBe(
      'cf: error: pipeline.yaml:14:13: phases[1].schema: unknown schema "ssi:lego_pair" (did you mean "ssi:lego_pairs"?)\n  hint: the schemas of ssi: ssi:seed_pairs, ssi:lego_pairs, ssi:lego_baskets',
    );
  });
});

describe('a schema cf cannot use is refused before anything runs (exit 2), at its file and line', () => {
  const errorOf = async (files: Record<string, string>, schema = 'schemas/legos.json'): Promise<string> => {
    const e = await printed(await withSchema(schema, files));
    await bench!.remove();
    bench = undefined;
    return e;
  };

  it('a missing file, a file that is not JSON or YAML, or not a JSON Schema', async () => {
    expect(await errorOf({}, 'schemas/nope.json')).toBe(
      "cf: error: pipeline.yaml:18:13: phases[1].schema: schema file schemas/nope.json does not exist\n  hint: paths are relative to pipeline.yaml's directory",
    );
    expect(await errorOf({ 'schemas/legos.json': '{\n  "type": "object",\n}\n' })).toMatch(
      /^cf: error: schemas\/legos\.json:3: not valid JSON: .*\n {2}hint: a schema file holds the JSON Schema \(draft 2020-12\) of ONE output item, as JSON or YAML$/,
    );
    expect(await errorOf({ 'schemas/legos.yaml': 'type: object\nproperties: {}\ntype: array\n' }, 'schemas/legos.yaml')).toMatch(
      /^cf: error: schemas\/legos\.yaml:3:1: not valid YAML: Map keys must be unique\n/,
    );
    expect(await errorOf({ 'schemas/legos.json': SCHEMA.replace('"type": "string" }', '"type": "strng" }') })).toBe(
      'cf: error: schemas/legos.json:4:21: properties.id.type: not a valid item schema: must be "array", "boolean", "integer", "null", "number", "object" or "string", not "strng"\n' +
        '  hint: cf checks every output item against it with ajv (JSON Schema draft 2020-12; unknown keywords are errors)',
    );
    expect(await errorOf({ 'schemas/legos.yaml': 'type: object\nrequried: [id]\n' }, 'schemas/legos.yaml')).toMatch(
      /^cf: error: schemas\/legos\.yaml:2:1: requried: not a valid item schema: unknown keyword "requried" \(did you mean "required"\?\)\n/,
    );
    expect(await errorOf({ 'schemas/legos.json': '{"type": "array"}' })).toMatch(/legos\.json:1:\d+: type: not a valid item schema: an output item is a JSON object: its schema's type must be "object", not "array"/);
  });

  it('an inline schema, at its line in pipeline.yaml', async () => {
    const e = await printed(await withSchema('\n      type: object\n      properties:\n        text: {type: string, minLength: -1}', {}));
    expect(e).toMatch(/^cf: error: pipeline\.yaml:21:41: phases\[1\]\.schema\.properties\.text\.minLength: not a valid item schema: must be >= 0/);
  });
});
