import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { Project, TWO_PHASES } from './helpers/project.js';

/*
 * A phase's item schema through the real CLI (the in-memory behaviour is test/workspace.schema.test.ts):
 * a schema that is not a valid JSON Schema is exit 2 at its file and line with nothing touched; fixed, the
 * bundled cf validates with it (ajv loaded from its chunk).
 */

let p: Project | undefined;
afterEach(async () => {
  await p?.remove();
  p = undefined;
});

const SCHEMA = (textType: string): string => `{
  "type": "object",
  "properties": {
    "text": { "type": "${textType}", "pattern": "^legos\\\\(" }
  },
  "required": ["id", "text"]
}
`;

describe('schema: through the real CLI', () => {
  it('an invalid schema file is exit 2 at its line, nothing touched; a valid one validates the build', async () => {
    p = await Project.create({ seeds: 20, pipeline: TWO_PHASES('    schema: schemas/legos.json\n'), files: { 'schemas/legos.json': SCHEMA('strng') } });
    const bad = await p.cf(['build']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('schemas/legos.json:4:23: properties.text.type: not a valid item schema: must be "array", "boolean", "integer", "null", "number", "object" or "string", not "strng"');
    expect(existsSync(p.file('.cf/records.log'))).toBe(false);
    expect(existsSync(p.file('out'))).toBe(false);

    // "^legos\\(" is what the fake agent writes for legos: valid; its "pairs(…)" for pairs is not checked.
    await p.write('schemas/legos.json', SCHEMA('string'));
    const r = await p.cf(['build']);
    expect(r.code).toBe(0);
    expect((await p.takeRuns()).map((x) => `${x.phase}#${x.batch}/${x.attempt}`)).toEqual(['pairs#1/1', 'legos#1/1']);
  });
});
