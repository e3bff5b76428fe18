import { graphModel } from '../../app/graph.js';
import { batchStates } from '../../app/inspect.js';
import { suggestion } from '../../util/didYouMean.js';
import { fail } from '../../util/errors.js';
import { dot, GRAPH_FORMATS, mermaid, type GraphFormat } from '../format/graph.js';
import type { GraphOptions } from '../options.js';
import { openWorkspace } from '../workspace.js';

/** `cf graph`: the phases and what each reads, as Mermaid (default), dot or JSON; --batches: their states. */
export async function graphCommand(opts: GraphOptions, args: string[]): Promise<number> {
  if (args.length) fail({ kind: 'usage', message: 'cf graph takes no targets', hint: 'cf graph [--format mermaid|dot|json] [--batches]' });
  const format = opts.format ?? 'mermaid';
  if (!(GRAPH_FORMATS as readonly string[]).includes(format)) fail({ kind: 'usage', message: `--format wants ${GRAPH_FORMATS.join(', ')}, not "${format}"${suggestion(format, [...GRAPH_FORMATS])}`, hint: 'cf help graph' });
  const ws = await openWorkspace(opts.dir);
  const { graph, pipeline } = ws.inputs;
  const model = graphModel(pipeline, { count: graph.seedCount, batches: graph.batchCount }, opts.batches ? await batchStates(ws) : undefined);
  const text = { mermaid, dot, json: (m: typeof model) => `${JSON.stringify(m, null, 2)}\n` }[format as GraphFormat](model);
  process.stdout.write(text);
  return 0;
}
