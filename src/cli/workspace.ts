import { Workspace, type WorkspaceSeams } from '../app/workspace.js';
import type { Request } from '../engine/targets.js';
import { fail } from '../util/errors.js';

/** The workspace of a directory, or exit 2 with what is wrong with its inputs. */
export async function openWorkspace(dir: string, seams: WorkspaceSeams = {}): Promise<Workspace> {
  const ws = await Workspace.open(dir, seams);
  if (!ws.ok) fail(ws.error);
  return ws.value;
}

/** Targets named on the command line, or exit 2 with what is wrong with them. */
export function requireTargets(ws: Workspace, names: string[]): Request[] {
  const r = ws.targets(names);
  if (!r.ok) fail(r.error);
  return r.value;
}
