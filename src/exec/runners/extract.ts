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

/** Claude Code's `--output-format json` envelope: the answer text, tokens and the run's cost. */
export interface ClaudeCodeEnvelope {
  result: string;
  isError: boolean;
  costUsd: number | null;
  usage: { input: number; cacheWrite: number; cacheRead: number; output: number } | null;
  model?: string;
}

export function parseClaudeCodeEnvelope(stdout: string): ClaudeCodeEnvelope | null {
  let v: unknown;
  try {
    v = JSON.parse(stdout.trim());
  } catch {
    return null;
  }
  // Newer versions may print a list of messages; the result message is the last one.
  if (Array.isArray(v)) v = v.findLast((m) => (m as { type?: string })?.type === 'result');
  const o = v as Record<string, unknown> | undefined;
  if (!o || o.type !== 'result' || typeof o.result !== 'string') return null;
  const u = o.usage as Record<string, number> | undefined;
  const modelUsage = o.modelUsage as Record<string, unknown> | undefined;
  return {
    result: o.result,
    isError: o.is_error === true,
    costUsd: typeof o.total_cost_usd === 'number' ? o.total_cost_usd : null,
    usage: u
      ? { input: u.input_tokens ?? 0, cacheWrite: u.cache_creation_input_tokens ?? 0, cacheRead: u.cache_read_input_tokens ?? 0, output: u.output_tokens ?? 0 }
      : null,
    ...(modelUsage && Object.keys(modelUsage).length ? { model: Object.keys(modelUsage)[0]! } : {}),
  };
}
