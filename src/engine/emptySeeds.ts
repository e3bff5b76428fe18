import { count } from '../util/plural.js';
import type { UserError } from '../util/errors.js';
import type { BuildStore } from '../store/buildStore.js';
import type { BuildGraph, Request } from './targets.js';

/**
 * A seeds file that holds no seeds is far more often a save caught half-written (an editor that truncates
 * then writes, `: > seeds.jsonl`, a sync in progress) than a wish to empty every output. Building from it
 * would rewrite every merged output as empty. cf build refuses (exit 2, nothing touched) when an output
 * it would rewrite holds items; `--allow-empty-seeds` says it is meant. (cf watch waits for the next save.)
 */
export function emptySeedsError(graph: BuildGraph, state: Pick<BuildStore, 'merge'>, requests: Request[]): UserError | null {
  if (graph.seedCount > 0) return null;
  const held: string[] = [];
  for (const r of requests) {
    if (!r.merge) continue;
    const m = state.merge(r.phase);
    if (m && m.items > 0) held.push(`${m.path} (${count(m.items, 'item')})`);
  }
  if (!held.length) return null;
  return {
    kind: 'seeds',
    file: graph.pipeline.seeds,
    message: `holds no seeds, but ${held.join(', ')} ${held.length === 1 ? 'was' : 'were'} built from some: building now would rewrite ${held.length === 1 ? 'it' : 'them'} empty; nothing was touched`,
    hint: 'a save caught half-written? build again once it is saved; to build from no seeds on purpose, cf build --allow-empty-seeds',
  };
}

/** cf watch: a seeds file with no seeds is not ready yet (the next save brings them); nothing is built from it. */
export function notReadySeeds(graph: BuildGraph): UserError | null {
  if (graph.seedCount > 0) return null;
  return {
    kind: 'seeds',
    file: graph.pipeline.seeds,
    message: 'holds no seeds (a save caught half-written?); nothing is built from it',
    hint: 'cf watch builds again at the next save of it (or run cf watch --allow-empty-seeds to build from no seeds)',
  };
}
