import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { PhaseConfig } from '../config/pipeline.js';
import type { ReadResult } from '../config/plugins.js';
import { registry } from '../config/registry.js';
import type { Item } from '../config/seeds.js';
import { suggestion } from '../util/didYouMean.js';
import { fail } from '../util/errors.js';
import type { Workspace } from '../app/workspace.js';

/** The phase a command names, by name or output path, or exit 2 with the phases there are. */
export function namedPhase(ws: Workspace, name: string): PhaseConfig {
  const phases = ws.inputs.graph.phases;
  const phase = phases.find((p) => p.name === name || p.output === path.normalize(name));
  if (!phase) fail({ kind: 'usage', message: `unknown phase "${name}"${suggestion(name, phases.map((p) => p.name))}`, hint: `phases: ${phases.map((p) => p.name).join(', ')}` });
  return phase;
}

/**
 * A file read as a phase's merged output (cf adopt, cf check --phase): a phase merged in a registered
 * format reads its documents; a JSON one, an array of items or a document of a known kind (found from its
 * content). `shown`: the file as the user named it. Exit 2 when it cannot be read so.
 */
export async function readPhaseFile(phase: PhaseConfig, file: string, shown: string): Promise<Item[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    fail({ kind: 'usage', message: `cannot read ${shown}: ${(e as Error).message}` });
  }
  let read: ReadResult | null;
  if (phase.merge.format !== 'json') read = registry.mergeFormat(phase.merge.format).read(text);
  else {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      fail({ kind: 'usage', message: `cannot read ${shown}: ${(e as Error).message}` });
    }
    read = registry.readDocument(doc, null);
  }
  if (!read) fail({ kind: 'usage', message: `${shown}: expected a JSON array of items or a document of a known kind (${registry.documentNames().join(', ')})` });
  if (!read.ok) fail({ kind: 'usage', message: `${shown}: ${read.error}` });
  return read.items;
}
