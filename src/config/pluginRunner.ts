import { ok } from '../util/result.js';
import type { PluginRunnerConfig } from './pipeline.js';
import type { RunnerKind, RunnerPlugin } from './plugins.js';

/*
 * A domain's runner kind (RunnerPlugin) as the registry holds every runner kind (RunnerKind): it takes the
 * keys every runner takes, and its own settings under `options:`, which the domain checks; its options are
 * keyed as its model settings and environment are.
 */

/** The runner keys a registered kind takes, beside `options:` (its own). */
const COMMON_KEYS = ['kind', 'timeout', 'env', 'deps', 'model', 'max_tokens', 'temperature', 'limits'];

/** `plugin` registered as `ref` (`<namespace>:<name>`). */
export function pluginRunnerKind(ref: string, plugin: RunnerPlugin): RunnerKind<PluginRunnerConfig> {
  return {
    name: ref,
    parse(e, fail) {
      // The schema took only runner keys; those of cf's own kinds (command, recording, base_url...) are not this one's.
      const bad = Object.keys(e.raw).find((k) => k !== 'options' && !COMMON_KEYS.includes(k));
      if (bad) return fail([...e.at, bad], `"${bad}" does not apply to ${ref} runners`, `${ref} runners take ${COMMON_KEYS.slice(1).join(', ')}, and its own settings under options:`);
      const at = [...e.at, 'options'];
      const options = plugin.options(e.raw.options ?? {}, (path, message, hint) => fail([...at, ...path], message, hint));
      if (!options.ok) return options;
      return ok({ ...e.base, kind: ref as PluginRunnerConfig['kind'], model: e.model, limits: e.limits, options: options.value });
    },
    keyed: (r, model) => ({ kind: r.kind, env: r.env, model, options: r.options }),
    create: (config, pipeline) => plugin.create(config, pipeline),
  };
}
