import { describeRemoteError } from '../store/remote/backend.js';
import { kindOf, REMOTE_ROOT } from '../store/remote/names.js';
import type { LockOwner } from '../store/lock.js';
import type { UserError } from '../util/errors.js';
import { err, ok, type Result } from '../util/result.js';
import { openBackend, remoteSettings, type RemoteOverride } from './remote.js';
import type { Workspace } from './workspace.js';

/*
 * cf gc: this checkout's stored outputs no record refers to; or (--remote) the shared cache's objects not
 * written for a while. A checkout never cleans the shared cache otherwise (cf clean and a build's upkeep
 * stay local): other machines read it.
 */

/** cf gc: the local store compacted, its unreferenced outputs deleted (or, dry, counted). */
export async function localGc(ws: Workspace, o: { dryRun: boolean; onWait(owner: LockOwner | null): void }): Promise<number> {
  if (o.dryRun) {
    const store = await ws.openStore(true);
    try {
      return await store.uncollected();
    } finally {
      store.close();
    }
  }
  const lock = await ws.lock('gc', o.onWait);
  try {
    const store = await ws.openStore(false);
    try {
      return await store.collect();
    } finally {
      store.close();
    }
  } finally {
    await lock.release();
  }
}

export interface RemoteGcReport {
  remote: string;
  dryRun: boolean;
  /** Deleted (or that would be), by kind: records of batches and items, outputs, and temporaries left by a writer that died. */
  deleted: { batch: number; item: number; blob: number; other: number };
  /** Objects written since the cut-off: kept. */
  kept: number;
}

/**
 * Deletes the shared cache's objects not written for `olderThanMs`: records first, then outputs (a record
 * never outlives its output on purpose; a reader that finds one without takes it as a miss anyway).
 * `failed`: the remote did not answer (nothing, or part, was deleted).
 */
export async function remoteGc(
  ws: Workspace,
  o: { olderThanMs: number; dryRun: boolean; override: RemoteOverride; now: Date },
): Promise<Result<RemoteGcReport | { failed: string; remote: string }, UserError>> {
  const settings = remoteSettings(ws.pipeline, o.override);
  if (!settings.ok) return settings;
  if (!settings.value) {
    return err({ kind: 'usage', message: `no shared cache to clean: ${ws.pipeline.file} has no cache: (or it is off)`, hint: 'name one: cf gc --remote --older-than 30d --remote-cache s3://BUCKET/PREFIX' });
  }
  const backend = await openBackend(settings.value);
  const cutoff = o.now.getTime() - o.olderThanMs;
  const old: Record<'batch' | 'item' | 'blob' | 'other', string[]> = { batch: [], item: [], blob: [], other: [] };
  let kept = 0;
  try {
    for await (const obj of backend.list(REMOTE_ROOT)) {
      if (obj.modified.getTime() >= cutoff) kept++;
      else old[kindOf(obj.name) ?? 'other'].push(obj.name);
    }
    if (!o.dryRun) for (const kind of ['batch', 'item', 'blob', 'other'] as const) await backend.delete(old[kind]);
  } catch (e) {
    return ok({ failed: describeRemoteError(e), remote: backend.where });
  } finally {
    backend.close();
  }
  return ok({ remote: backend.where, dryRun: o.dryRun, deleted: { batch: old.batch.length, item: old.item.length, blob: old.blob.length, other: old.other.length }, kept });
}
