import { describeError, type ValidationError } from './validate.js';

/**
 * The one prompt template. Every agent run gets: the phase intelligence in full, the batch context, the
 * input items, the task and where to write, and on a retry the errors of the previous attempt.
 * Change the wording here and bump PROMPT_TEMPLATE_VERSION (src/version.ts): it is part of every key.
 */
export { PROMPT_TEMPLATE_VERSION } from '../version.js';

export interface PromptInput {
  intelligence: string;
  phase: string;
  batch: number;
  batchCount: number;
  attempt: number;
  attempts: number;
  idField: string;
  itemIds: string[];
  inputJson: string;
  /** file: the agent writes CF_OUTPUT_FILE (command runners); reply: it answers in its message (API runners). */
  delivery: 'file' | 'reply';
  outputFile: string;
  previousErrors: ValidationError[];
  /** A rendered context section (the vocabulary taught before these items), when the phase has one. */
  context?: string;
  /**
   * The phase's schema as files (CF_SCHEMA_FILE, CF_ITEM_SCHEMA_FILE), for an agent that writes its output
   * file (runners that constrain decoding send it instead). Absent: the prompt reads as it always has.
   */
  schemaFiles?: { schema: string; itemSchema: string };
  /**
   * The tool the agent hands its answer in with (Claude Code's StructuredOutput, given the batch schema by
   * --json-schema), instead of the output file. Its input is the batch in object form (schema/strict.ts):
   * one property per item, named by its id, in order.
   */
  answerTool?: string;
}

/**
 * The prompt in two parts: the intelligence (the same for every batch of a phase, so API runners send it
 * as a cached system block) and the task of this batch. The full prompt is both, separated by a rule.
 */
export interface Prompt {
  intelligence: string;
  task: string;
  full: string;
}

function idSpan(ids: string[]): string {
  if (ids.length === 0) return '(none)';
  if (ids.length <= 3) return ids.join(', ');
  return `${ids[0]} … ${ids[ids.length - 1]}`;
}

export function renderPrompt(p: PromptInput): Prompt {
  // Attempt 1 with errors: cached answers (items: independent) that were rejected together with the rest of their batch.
  const retry = p.previousErrors.length
    ? `

## Fix these errors${p.attempt > 1 ? ` from attempt ${p.attempt - 1}` : ''}

${p.attempt > 1 ? 'Your previous answer was rejected' : 'An earlier answer for these items was rejected'}. This is attempt ${p.attempt} of ${p.attempts}. Errors:
${p.previousErrors.map((e) => `- ${describeError(e)}`).join('\n')}
`
    : '';
  const deliver = p.answerTool
    ? `Apply the instructions above to each input item. Hand in the answer by calling the ${p.answerTool} tool once, at
the end: its input has one property per input item, named by the item's "${p.idField}", in the same order, holding
that item's output object without its "${p.idField}" (the property's name is the ${p.idField}). Write no output file.`
    : p.delivery === 'file'
      ? `Apply the instructions above to each input item. Write a JSON array to ${p.outputFile} holding exactly one
output object per input item, in the same order, each with its "${p.idField}" unchanged. Write nothing else
to that file: no comments, no prose.${
          p.schemaFiles
            ? `\nEach output object must follow the JSON Schema in ${p.schemaFiles.itemSchema} (the whole array: ${p.schemaFiles.schema}).`
            : ''
        }`
      : `Apply the instructions above to each input item. Answer with one \`\`\`json fenced block holding a JSON array
with exactly one output object per input item, in the same order, each with its "${p.idField}" unchanged.`;
  const intelligence = p.intelligence.trimEnd();
  const task = `## Batch context

- Phase: ${p.phase}
- Batch: ${p.batch} of ${p.batchCount}
- Items: ${p.itemIds.length} (${idSpan(p.itemIds)})
- Item ids: ${p.itemIds.join(', ')}

${p.context ? `${p.context.trimEnd()}\n\n` : ''}## Input items

\`\`\`json
${p.inputJson}
\`\`\`

## Task

${deliver}
${retry}`;
  return { intelligence, task, full: `${intelligence}\n\n---\n\n${task}` };
}
