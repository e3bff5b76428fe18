/**
 * The JSON answer in an agent's text: the whole text when it is JSON, else the last fenced ```json block
 * (or the last fenced block of any kind that parses). Returns the text to validate; when nothing parses,
 * the original text, so the built-in checks report why.
 */
export function extractJson(text: string): string {
  const trimmed = text.trim();
  if (isJson(trimmed)) return trimmed;
  const blocks = [...trimmed.matchAll(/```([A-Za-z0-9_-]*)[ \t]*\r?\n([\s\S]*?)\r?\n?```/g)];
  const json = blocks.filter((b) => b[1]!.toLowerCase() === 'json').map((b) => b[2]!.trim());
  for (const candidate of [...json.reverse(), ...blocks.map((b) => b[2]!.trim()).reverse()]) {
    if (isJson(candidate)) return candidate;
  }
  return trimmed;
}

function isJson(s: string): boolean {
  if (!s || (s[0] !== '[' && s[0] !== '{')) return false;
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
}

/** Tokens as Claude Code reports them (`usage`, or summed over `modelUsage`). */
export interface ClaudeCodeTokens {
  input: number;
  cacheWrite: number;
  cacheRead: number;
  output: number;
}

/**
 * Claude Code's result: the `--output-format json` envelope, or the last line of `stream-json`. `result` is
 * null when the run ended without an answer (a limit reached: `error_max_turns`, `error_max_budget_usd`,
 * with `errors` saying why).
 */
export interface ClaudeCodeEnvelope {
  result: string | null;
  isError: boolean;
  subtype: string | null;
  errors: string[];
  /** The HTTP status of the API error the run ended on (401, 404, …), when it ended on one. */
  apiErrorStatus: number | null;
  costUsd: number | null;
  usage: ClaudeCodeTokens | null;
  model?: string;
  /** With --json-schema: the StructuredOutput tool's input, as the CLI checked it against the schema. */
  structuredOutput?: unknown;
}

export function parseClaudeCodeEnvelope(stdout: string): ClaudeCodeEnvelope | null {
  let v: unknown;
  try {
    v = JSON.parse(stdout.trim());
  } catch {
    return null;
  }
  // With --verbose, a list of messages; the result message is the last one.
  if (Array.isArray(v)) v = v.findLast((m) => (m as { type?: string })?.type === 'result');
  return claudeCodeResult(v);
}

const num = (x: unknown): number => (typeof x === 'number' && Number.isFinite(x) ? x : 0);

/**
 * A `{"type": "result", …}` message as an envelope, or null when it is not one. Tokens come from
 * `modelUsage` when it has any: the top-level `usage` counts the main loop's last model only (with a
 * subagent it leaves the subagent's tokens out, while the dollars count them; after the non-streaming
 * fallback of older versions it is all zeros).
 */
export function claudeCodeResult(v: unknown): ClaudeCodeEnvelope | null {
  const o = v as Record<string, unknown> | null | undefined;
  if (!o || typeof o !== 'object' || o.type !== 'result') return null;
  if (o.result !== undefined && typeof o.result !== 'string') return null;
  const models = Object.entries((o.modelUsage ?? {}) as Record<string, Record<string, unknown>>).filter(([, m]) => m && typeof m === 'object');
  const u = o.usage as Record<string, unknown> | undefined;
  let usage: ClaudeCodeTokens | null = null;
  if (models.length) {
    usage = { input: 0, cacheWrite: 0, cacheRead: 0, output: 0 };
    for (const [, m] of models) {
      usage.input += num(m.inputTokens);
      usage.cacheWrite += num(m.cacheCreationInputTokens);
      usage.cacheRead += num(m.cacheReadInputTokens);
      usage.output += num(m.outputTokens);
    }
  } else if (u && typeof u === 'object') {
    usage = { input: num(u.input_tokens), cacheWrite: num(u.cache_creation_input_tokens), cacheRead: num(u.cache_read_input_tokens), output: num(u.output_tokens) };
  }
  return {
    result: typeof o.result === 'string' ? o.result : null,
    isError: o.is_error === true,
    subtype: typeof o.subtype === 'string' ? o.subtype : null,
    errors: Array.isArray(o.errors) ? o.errors.filter((e): e is string => typeof e === 'string') : [],
    apiErrorStatus: typeof o.api_error_status === 'number' ? o.api_error_status : null,
    costUsd: typeof o.total_cost_usd === 'number' ? o.total_cost_usd : null,
    usage,
    ...(models.length ? { model: models[0]![0] } : {}),
    ...(o.structured_output !== undefined ? { structuredOutput: o.structured_output } : {}),
  };
}
