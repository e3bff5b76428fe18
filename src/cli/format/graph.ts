import type { BatchRun, GraphModel, Read } from '../../app/graph.js';
import type { BatchState } from '../../app/inspect.js';
import { count } from '../../util/plural.js';

/*
 * cf graph's formats: Mermaid (renders on GitHub and in editors; the terminal default, as it reads as
 * text too) and Graphviz dot. Seeds, phases and the files they read are nodes; an edge says what is read
 * (items, intelligence, context: vocabulary, …), dashed for files. With --batches each phase is a box
 * holding its batches in runs of one state, filled by state.
 */

export const GRAPH_FORMATS = ['mermaid', 'dot', 'json'] as const;
export type GraphFormat = (typeof GRAPH_FORMATS)[number];

const FILL: Record<BatchState, { fill: string; stroke: string }> = {
  fresh: { fill: '#d4edda', stroke: '#28a745' },
  stale: { fill: '#fff3cd', stroke: '#d39e00' },
  waiting: { fill: '#e2e3e5', stroke: '#6c757d' },
  failed: { fill: '#f8d7da', stroke: '#dc3545' },
};

/** Node ids: the seeds, phases by index, files by first appearance. */
interface Ids {
  phase: Map<string, string>;
  file: Map<string, string>;
}

function idsOf(m: GraphModel): Ids {
  const phase = new Map(m.phases.map((p, i) => [p.name, `p${i}`]));
  const file = new Map<string, string>();
  for (const p of m.phases) for (const r of p.reads) if (r.fromKind === 'file' && !file.has(r.from)) file.set(r.from, `f${file.size}`);
  return { phase, file };
}

function source(r: Read, ids: Ids): string {
  return r.fromKind === 'seeds' ? 'seeds' : r.fromKind === 'phase' ? ids.phase.get(r.from)! : ids.file.get(r.from)!;
}

function edgeLabel(r: Read): string {
  if (r.kind === 'context') return `context: ${r.label}`;
  if (r.kind === 'runner') return `runner ${r.label}`;
  return r.kind;
}

function runLabel(r: BatchRun): string {
  return `${r.first === r.last ? `batch ${r.first}` : `batches ${r.first}–${r.last}`}: ${r.state}`;
}

function phaseLines(p: GraphModel['phases'][number]): string[] {
  return [p.name, `→ ${p.output}`, ...(p.schema ? [`schema: ${p.schema}`] : [])];
}

function seedsLines(m: GraphModel): string[] {
  return [m.seeds.file, `${count(m.seeds.count, 'seed')}, ${count(m.seeds.batches, 'batch', 'batches')}`];
}

const mermaidText = (lines: string[]): string => `"${lines.map((l) => l.replace(/"/g, '#quot;')).join('<br/>')}"`;

export function mermaid(m: GraphModel): string {
  const ids = idsOf(m);
  const out = ['flowchart LR', `  seeds[(${mermaidText(seedsLines(m))})]`];
  for (const [file, id] of ids.file) out.push(`  ${id}[${mermaidText([file])}]:::file`);
  for (const p of m.phases) {
    const id = ids.phase.get(p.name)!;
    if (!p.batches) {
      out.push(`  ${id}[${mermaidText(phaseLines(p))}]:::phase`);
      continue;
    }
    out.push(`  subgraph ${id}_batches[${mermaidText([`${p.name}: ${batchSummary(p.batches)}`])}]`, '    direction TB', `    ${id}[${mermaidText(phaseLines(p))}]:::phase`);
    for (const r of p.batches.runs) out.push(`    ${id}_${r.first}[${mermaidText([runLabel(r)])}]:::${r.state}`);
    out.push('  end');
  }
  for (const p of m.phases) {
    for (const r of p.reads) out.push(`  ${source(r, ids)} ${r.fromKind === 'file' ? '-.->' : '-->'}|${mermaidText([edgeLabel(r)])}| ${ids.phase.get(p.name)!}`);
  }
  out.push('  classDef phase font-weight:bold', '  classDef file stroke-dasharray:3 3');
  for (const [state, c] of Object.entries(FILL)) out.push(`  classDef ${state} fill:${c.fill},stroke:${c.stroke}`);
  return `${out.join('\n')}\n`;
}

function batchSummary(b: NonNullable<GraphModel['phases'][number]['batches']>): string {
  const parts = (Object.keys(b.counts) as BatchState[]).filter((s) => b.counts[s]).map((s) => `${b.counts[s]} ${s}`);
  return `${count(b.total, 'batch', 'batches')}${parts.length ? ` (${parts.join(', ')})` : ''}`;
}

const dotText = (lines: string[]): string => `"${lines.map((l) => l.replace(/\\/g, '\\\\').replace(/"/g, '\\"')).join('\\n')}"`;

export function dot(m: GraphModel): string {
  const ids = idsOf(m);
  const out = ['digraph cf {', '  rankdir=LR;', '  node [fontname="Helvetica", fontsize=11];', '  edge [fontname="Helvetica", fontsize=9];'];
  out.push(`  seeds [label=${dotText(seedsLines(m))}, shape=cylinder];`);
  for (const [file, id] of ids.file) out.push(`  ${id} [label=${dotText([file])}, shape=note];`);
  for (const p of m.phases) {
    const id = ids.phase.get(p.name)!;
    const node = `${id} [label=${dotText(phaseLines(p))}, shape=box, style="rounded,bold"];`;
    if (!p.batches) {
      out.push(`  ${node}`);
      continue;
    }
    out.push(`  subgraph cluster_${id} {`, `    label=${dotText([`${p.name}: ${batchSummary(p.batches)}`])};`, `    ${node}`);
    for (const r of p.batches.runs) out.push(`    ${id}_${r.first} [label=${dotText([runLabel(r)])}, shape=box, style=filled, fillcolor="${FILL[r.state].fill}", color="${FILL[r.state].stroke}"];`);
    out.push('  }');
  }
  for (const p of m.phases) {
    for (const r of p.reads) out.push(`  ${source(r, ids)} -> ${ids.phase.get(p.name)!} [label=${dotText([edgeLabel(r)])}${r.fromKind === 'file' ? ', style=dashed' : ''}];`);
  }
  out.push('}');
  return `${out.join('\n')}\n`;
}
