import path from 'node:path';

/** cf's own directory in a pipeline's directory. */
export const STATE_DIR = '.cf';

/**
 * Where cf keeps what it knows about a pipeline directory: the one place that knows the .cf/ layout.
 * Kept free of imports beyond node:path (the no-op fast path reads it before anything else).
 */
export function storeLayout(dir: string) {
  const root = path.join(dir, STATE_DIR);
  return {
    root,
    /** The record log (append-only, compacted now and then), and the superseded records kept for reverts. */
    log: path.join(root, 'records.log'),
    history: path.join(root, 'history.log'),
    historyKeys: path.join(root, 'history.log.keys'),
    /** Content-addressed blobs: batch outputs. */
    objects: path.join(root, 'objects'),
    /** Each batch's latest attempts: .cf/runs/PHASE/BATCH/attempt-N/. */
    runs: path.join(root, 'runs'),
    /** (size, mtime, inode) → content hash, and the snapshots kept with it. */
    statCache: path.join(root, 'stat-cache.json'),
    /** The lock one cf at a time holds, and who holds it. */
    lock: path.join(root, 'lock'),
    lockOwner: path.join(root, 'lock.owner'),
    /** Merged outputs edited by hand (or not written by cf), kept before cf replaced them. */
    replaced: path.join(root, 'replaced'),
    /** The no-op fast path's stamp. */
    noopStamp: path.join(root, 'noop.json'),
    /** pipeline.yaml as last parsed. */
    pipelineCache: path.join(root, 'pipeline.json'),
    /** Message Batches submitted and not yet collected. */
    messageBatches: path.join(root, 'message-batches.json'),
    /** The stamped events of recent builds (NDJSON; cf serve follows it), and the one before its last rotation. */
    events: path.join(root, 'events.log'),
    eventsPrevious: path.join(root, 'events.1.log'),
  };
}

export type StoreLayout = ReturnType<typeof storeLayout>;

/** A batch's run directory: where its attempts keep their files. */
export function runDirOf(dir: string, phase: string, batch: number | string): string {
  return path.join(storeLayout(dir).runs, phase, String(batch));
}
