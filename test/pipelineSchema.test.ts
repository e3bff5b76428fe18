import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { PIPELINE_SCHEMA_FILE, pipelineJsonSchema } from '../src/app/pipelineJsonSchema.js';
import { REPO } from './helpers/project.js';

/*
 * The JSON Schema of pipeline.yaml editors read: generated from cf's own zod schema, it takes the
 * example course and what cf init writes (test/init.test.ts validates those it writes), and flags what
 * cf refuses, checked with a standard validator (ajv, draft 2020-12 as generated).
 */

const schema = pipelineJsonSchema();
const validate = new Ajv2020({ allErrors: true, strict: false }).compile(schema);

function schemaErrors(yamlText: string): string[] {
  return validate(parse(yamlText)) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);
}

describe('the JSON Schema of pipeline.yaml', () => {
  it('is draft 2020-12, generated (npm run build writes the same to schema/pipeline.schema.json)', () => {
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(JSON.parse(readFileSync(path.join(REPO, PIPELINE_SCHEMA_FILE), 'utf8'))).toEqual(schema);
  });

  it("takes the example course and the minimal template; knows the registered kinds (ssi:…) and each key's meaning", () => {
    expect(schemaErrors(readFileSync(path.join(REPO, 'pipeline.yaml'), 'utf8'))).toEqual([]);
    expect(schemaErrors(readFileSync(path.join(REPO, 'templates/minimal/pipeline.yaml'), 'utf8'))).toEqual([]);
    const phase = (schema as { properties: { phases: { items: { properties: Record<string, { description?: string }> } } } }).properties.phases.items.properties;
    expect(phase.intelligence!.description).toBe("the prompt document the phase's agent follows");
    expect(JSON.stringify(phase.merge)).toContain('ssi:lego_pairs');
  });

  it('flags what cf refuses: a misspelt key, a wrong type, an unknown merge format, a missing key', () => {
    const text = readFileSync(path.join(REPO, 'templates/minimal/pipeline.yaml'), 'utf8');
    const misspelt = schemaErrors(text.replace('intelligence:', 'intelligense:')).join('\n');
    expect(misspelt).toContain('/phases/0 must NOT have additional properties {"additionalProperty":"intelligense"}');
    expect(misspelt).toContain("/phases/0 must have required property 'intelligence'");
    expect(schemaErrors(text.replace('batch_size: 2', 'batch_size: two')).join('\n')).toContain('/batch_size must be integer');
    expect(schemaErrors(text.replace('    runner: offline', '    runner: offline\n    merge: ssi:lego_pears')).join('\n')).toContain('/phases/0/merge');
    expect(schemaErrors(text.replace(/^seeds: .*$/m, '')).join('\n')).toContain("must have required property 'seeds'");
  });
});
