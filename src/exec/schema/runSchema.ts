import type { JsonSchema, PhaseConfig } from '../../config/pipeline.js';
import { batchSchema } from './batchSchema.js';

/**
 * The phase's schema for one agent run: what a runner that can constrain the model's decoding sends
 * (runners/structured.ts, adapted to its provider: strict.ts, loose.ts), and what a command agent reads
 * (CF_SCHEMA_FILE, CF_ITEM_SCHEMA_FILE).
 */
export interface AttemptSchema {
  /** The JSON Schema of one output item, as the phase gives it. */
  item: JsonSchema;
  /** The batch schema of the run's items (batchSchema.ts): an array of exactly them, in order, each id a const. */
  batch: JsonSchema;
  idField: string;
  /**
   * Whether API runners constrain decoding with it: only a schema pipeline.yaml names. A kind's default
   * (SchemaConfig.implicit) is cf's check only: sent, it would put each batch's ids before the cached
   * intelligence, and a course that upgraded cf would lose its cross-batch prompt-cache reads unasked.
   */
  constrain: boolean;
}

/**
 * The phase's schema for a run over these items (undefined: the phase has none), for `items: independent`
 * the packed ones. Built from the phase the executor holds: a job spec carries nothing more.
 */
export function attemptSchema(phase: PhaseConfig, ids: readonly string[], idField: string): AttemptSchema | undefined {
  return phase.schema ? { item: phase.schema.schema, batch: batchSchema(phase.schema.schema, ids, idField), idField, constrain: !phase.schema.implicit } : undefined;
}
