import { z } from 'zod';
import { parseDuration } from '../util/duration.js';
import { parseSize } from '../util/size.js';
import { SSI_KINDS, type SsiKind } from '../domains/ssi/types.js';
import { RUNNER_KINDS } from './pipeline.js';

/*
 * The shape of pipeline.yaml, as zod schemas: what each key may hold. What needs the whole file (which
 * runner a phase names, which phase it reads) is checked after, on the parsed value (runnerConfig.ts,
 * phaseConfig.ts).
 */

const durationSchema = z
  .union([z.string(), z.number()])
  .refine((v) => parseDuration(v) !== null, { message: 'expected a duration such as 90s, 5m, 1h or 500ms' });
const sizeSchema = z
  .union([z.string(), z.number()])
  .refine((v) => parseSize(v) !== null, { message: 'expected a size such as 20MB, 500kB, 1MiB or a number of bytes' });
const commandSchema = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)], {
  error: 'expected a command: a list of arguments ([node, agent.js]) or a shell string',
});
const pathList = z.array(z.string().min(1));

const ssiKind = z.enum(SSI_KINDS as unknown as [SsiKind, ...SsiKind[]], { error: `expected one of ${SSI_KINDS.join(', ')}` });
const ssiRef = z.templateLiteral(['ssi:', ssiKind], { error: `expected ${SSI_KINDS.map((k) => `ssi:${k}`).join(', ')}` });

/** One schema for every runner kind (so unknown keys get a did-you-mean); which keys a kind needs is checked after. */
const limitsSchema = z.strictObject({
  concurrency: z.number().int().min(1).optional(),
  requests_per_minute: z.number().positive().optional(),
  tokens_per_minute: z.number().positive().optional(),
});
const modelKeys = {
  model: z.string().min(1).optional(),
  max_tokens: z.number().int().min(1).optional(),
  temperature: z.number().min(0).max(2).optional(),
};
const runnerSchema = z.strictObject({
  kind: z.enum(RUNNER_KINDS, { error: `expected a runner kind: ${RUNNER_KINDS.join(', ')}` }).optional(),
  command: commandSchema.optional(),
  preset: z.enum(['claude-code'], { error: 'expected a preset: claude-code' }).optional(),
  args: z.array(z.string()).optional(),
  cwd: z.enum(['pipeline', 'run']).optional(),
  recording: z.string().min(1).optional(),
  as: ssiKind.optional(),
  ...modelKeys,
  api_key_env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'the NAME of an environment variable (never the key itself)' }).optional(),
  base_url: z.url().optional(),
  mode: z.enum(['messages', 'batch']).optional(),
  poll_interval: durationSchema.optional(),
  max_retries: z.number().int().min(0).max(20).optional(),
  limits: limitsSchema.optional(),
  timeout: durationSchema.optional(),
  env: z.record(z.string(), z.string()).optional(),
  deps: pathList.optional(),
});
const priceSchema = z.strictObject({
  input: z.number().min(0),
  output: z.number().min(0),
  cache_write: z.number().min(0).optional(),
  cache_read: z.number().min(0).optional(),
});

const severitySchema = z.record(z.string(), z.enum(['error', 'warning', 'off']));
const listsSchema = z.partialRecord(
  z.enum(['article', 'auxiliary', 'negation', 'object_pronoun']),
  z.strictObject({ error: z.array(z.string()).optional(), warning: z.array(z.string()).optional() }),
);
const validateSchema = z.union([
  ssiRef,
  commandSchema,
  z.strictObject({
    rules: ssiRef.optional(),
    command: commandSchema.optional(),
    timeout: durationSchema.optional(),
    severity: severitySchema.optional(),
    lists: listsSchema.optional(),
  }),
]);
const mergeSchema = z.union([
  z.literal('json'),
  ssiRef,
  z.strictObject({ format: z.union([z.literal('json'), ssiRef]), version: z.string().optional() }),
]);
const courseSchema = z.strictObject({
  code: z.string().min(1),
  target_language: z.string().min(1),
  known_language: z.string().min(1),
  target_name: z.string().min(1).optional(),
});

const phaseSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, {
    message: 'a phase name is letters, digits, "_", "-" or "." and starts with a letter or "_"',
  }),
  from: z.string().min(1).optional(),
  intelligence: z.string().min(1),
  runner: z.string().min(1),
  output: z.string().min(1),
  attempts: z.number().int().min(1).max(50).optional(),
  validate: validateSchema.optional(),
  validate_timeout: durationSchema.optional(),
  max_output: sizeSchema.optional(),
  merge: mergeSchema.optional(),
  deps: pathList.optional(),
  description: z.string().optional(),
  items: z.enum(['batch', 'independent']).optional(),
  context: z.strictObject({ vocabulary: z.string().min(1) }).optional(),
  ...modelKeys,
});

export const pipelineSchema = z.strictObject({
  seeds: z.string().min(1),
  id: z.string().min(1).optional(),
  batch_size: z.number().int().min(1).max(100_000).optional(),
  batching: z.enum(['positional', 'stable']).optional(),
  jobs: z.number().int().min(1).max(256).optional(),
  course: courseSchema.optional(),
  prices: z.record(z.string(), priceSchema).optional(),
  runners: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/), runnerSchema),
  phases: z.array(phaseSchema).min(1, { message: 'at least one phase is needed' }),
});

/** pipeline.yaml as the schema gives it, before it is normalised into a Pipeline (pipeline.ts). */
export type RawPipeline = z.infer<typeof pipelineSchema>;
export type RawRunner = z.infer<typeof runnerSchema>;
export type RawPhase = z.infer<typeof phaseSchema>;
export type RawValidate = z.infer<typeof validateSchema>;
export type RawMerge = z.infer<typeof mergeSchema>;
export type RawPrice = z.infer<typeof priceSchema>;
