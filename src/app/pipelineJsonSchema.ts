import { z } from 'zod';
import { Registry } from '../config/registry.js';
import { pipelineSchema } from '../config/schema.js';
import { registerSsi } from '../domains/ssi/index.js';

/*
 * The JSON Schema of pipeline.yaml, for editors (completion, hover, checks as you type): generated from the
 * zod schema cf parses pipeline.yaml with (config/schema.ts), with the kinds cf's composition root
 * registers (its runner kinds, the SSi domain's merge formats, rule sets, documents and contexts), so it
 * never says other than cf. `npm run build` writes it to schema/pipeline.schema.json
 * (scripts/pipeline-schema.mjs); `cf init` copies it beside the pipeline.yaml it writes.
 *
 * What zod checks in code (a duration's syntax, a phase named by `from`, a runner's kind-specific keys) an
 * editor cannot: cf still says those at the file's line. Draft 2020-12, as zod writes it.
 */

export const PIPELINE_SCHEMA_FILE = 'schema/pipeline.schema.json';

export function pipelineJsonSchema(): Record<string, unknown> {
  // A registry of its own, as cf's composition root fills it (app/inputs.ts): not the process's, which a
  // test (or a program embedding cf) may have registered other kinds in.
  const registry = new Registry();
  registerSsi(registry);
  const generated = z.toJSONSchema(pipelineSchema(registry), { target: 'draft-2020-12', unrepresentable: 'any' }) as Record<string, unknown>;
  const { $schema, ...rest } = generated;
  return {
    $schema,
    title: 'cf pipeline.yaml',
    description: "cf's pipeline: the seeds, the phases, each phase's intelligence, runners and validators. Generated from cf's own schema (npm run build).",
    ...rest,
  };
}
