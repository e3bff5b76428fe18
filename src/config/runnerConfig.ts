import { suggestion } from '../util/didYouMean.js';
import { parseDuration } from '../util/duration.js';
import type { UserError } from '../util/errors.js';
import { ok, type Result } from '../util/result.js';
import type { Fail } from './diagnostics.js';
import type { ModelSettings, RunnerConfig } from './pipeline.js';
import type { Registry } from './registry.js';
import type { RawRunner } from './schema.js';

/*
 * The runners of pipeline.yaml, normalised by their kinds. The schema accepts every runner key on every
 * runner (so an unknown key gets a did-you-mean); the kind a runner names is looked up in the registry
 * (cf's own and the domains': plugins.ts, RunnerKind), and which keys it takes, and needs, is its own.
 */

const DEFAULT_TIMEOUT_MS = 30 * 60_000;

/** Every runner by name, in the file's order; the first runner that is wrong is reported. */
export function runnerConfigs(raw: Record<string, RawRunner>, registry: Registry, fail: Fail): Result<Map<string, RunnerConfig>, UserError> {
  const runners = new Map<string, RunnerConfig>();
  for (const [name, r] of Object.entries(raw)) {
    const at = ['runners', name];
    const kindName = r.kind ?? (r.recording !== undefined && r.command === undefined ? 'replay' : 'command');
    const kind = registry.runnerKind(kindName);
    if (!kind) {
      const known = registry.runnerKindRefs();
      return fail([...at, 'kind'], `unknown runner kind "${kindName}"${suggestion(kindName, known)}`, `runner kinds: ${known.join(', ')}`);
    }
    const model: ModelSettings = {
      ...(r.model !== undefined ? { model: r.model } : {}),
      ...(r.max_tokens !== undefined ? { maxTokens: r.max_tokens } : {}),
      ...(r.temperature !== undefined ? { temperature: r.temperature } : {}),
    };
    const limits = {
      ...(r.limits?.concurrency !== undefined ? { concurrency: r.limits.concurrency } : {}),
      ...(r.limits?.requests_per_minute !== undefined ? { requestsPerMinute: r.limits.requests_per_minute } : {}),
      ...(r.limits?.tokens_per_minute !== undefined ? { tokensPerMinute: r.limits.tokens_per_minute } : {}),
    };
    const base = {
      name,
      timeoutMs: r.timeout !== undefined ? parseDuration(r.timeout)! : DEFAULT_TIMEOUT_MS,
      env: r.env ?? {},
      deps: r.deps ?? [],
    };
    const config = kind.parse({ raw: r, at, kind: kindName, base, model, limits }, fail);
    if (!config.ok) return config;
    runners.set(name, config.value);
  }
  return ok(runners);
}
