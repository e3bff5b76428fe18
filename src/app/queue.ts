import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import path from 'node:path';
import type { QueueLocation } from '../config/queueConfig.js';
import { phaseParts, statCacheHasher } from '../engine/fingerprint.js';
import type { BuildEvent } from '../events/types.js';
import type { BatchExecutor } from '../exec/executor.js';
import { connectionOf } from '../exec/queue/connection.js';
import type { CheckoutParts } from '../exec/queue/jobs.js';
import { backendBlobs, type OutputBlobs } from '../exec/queue/outputBlobs.js';
import { QueueExecutor } from '../exec/queue/queueExecutor.js';
import { SharedBudget } from '../exec/queue/sharedBudget.js';
import { QueueWorker, type WorkerLog } from '../exec/queue/worker.js';
import { storeLayout } from '../store/layout.js';
import { localExecutor, type Inputs } from './inputs.js';
import { openBackend, remoteSettings, type RemoteOverride } from './remote.js';
import type { Workspace } from './workspace.js';

/*
 * A checkout as a queue's coordinator (`cf build --queue`) or worker (`cf worker`): what each needs of the
 * checkout (its phases' hashes, its shared cache, its runners and validators) put together with the queue
 * (src/exec/queue/). The engine is not told: the coordinator's executor is the Workspace's executor seam.
 */

/** A phase's hashes as a worker compares them: its part of every key, without the intelligence (the job carries that). */
export async function checkoutParts(inputs: Inputs, phaseName: string): Promise<CheckoutParts | null> {
  const { pipeline } = inputs;
  const phase = pipeline.phases.find((p) => p.name === phaseName);
  if (!phase) return null;
  const { intelligence: _intelligence, ...parts } = await phaseParts(pipeline, phase, statCacheHasher(pipeline.dir, inputs.cache));
  return parts;
}

/** The checkout's shared cache as a place for outputs on their way to the coordinator (null: none, or not reachable). */
async function outputBlobs(inputs: Inputs, override: RemoteOverride): Promise<{ blobs: OutputBlobs; close(): void } | null> {
  const settings = remoteSettings(inputs.pipeline, override);
  if (!settings.ok || !settings.value || settings.value.mode !== 'read-write') return null;
  const backend = await openBackend(settings.value);
  return { blobs: backendBlobs(backend), close: () => backend.close() };
}

export interface Coordinator {
  executor: QueueExecutor;
  /** After the build: the jobs it took leave the queue, the connections close. */
  finish(): Promise<void>;
}

/** The coordinator's side of a build on a queue; or why the queue cannot be reached. */
export async function openCoordinator(
  ws: Workspace,
  o: { location: QueueLocation; emit(e: BuildEvent): void; jobs: number; maxCost: number | null; remoteCache?: RemoteOverride; downAfterMs?: number; blobs?: OutputBlobs | null },
): Promise<{ ok: Coordinator } | { unreachable: string }> {
  const { inputs } = ws;
  const parts = new Map<string, CheckoutParts>();
  for (const phase of inputs.pipeline.phases) parts.set(phase.name, (await checkoutParts(inputs, phase.name))!);
  const shared = o.blobs !== undefined ? (o.blobs && { blobs: o.blobs, close: () => undefined }) : await outputBlobs(inputs, o.remoteCache ?? null);
  const connection = connectionOf(o.location);
  const budget = o.maxCost !== null ? { key: randomUUID(), maxUsd: o.maxCost } : null;
  const opened = await QueueExecutor.open({
    location: o.location,
    connection,
    local: localExecutor(inputs, { jobs: o.jobs }).executor,
    parts: (phase) => parts.get(phase)!,
    runner: (phase) => {
      const r = inputs.pipeline.runners.get(inputs.graph.phase(phase).runner)!;
      return { name: r.name, limits: 'limits' in r ? r.limits : {} };
    },
    phaseIndex: (phase) => inputs.graph.phase(phase).index,
    relativeRunDir: (dir) => dir && path.relative(inputs.pipeline.dir, dir),
    blobs: shared?.blobs ?? null,
    budget,
    coordinator: `${hostname()}:${process.pid}`,
    emit: o.emit,
    ...(o.downAfterMs !== undefined ? { downAfterMs: o.downAfterMs } : {}),
  });
  if ('unreachable' in opened) {
    shared?.close();
    return opened;
  }
  const executor = opened.ok;
  if (budget) await new SharedBudget(() => executor.client()).create(budget.key, budget.maxUsd, {});
  return {
    ok: {
      executor,
      finish: async () => {
        await executor.finish();
        shared?.close();
      },
    },
  };
}

/**
 * A worker on this checkout: its runners and validators, -j at once, its run directories under
 * .cf/worker-runs/ (a cf build in the same checkout keeps .cf/runs/ to itself).
 */
export async function openWorker(
  ws: Workspace,
  o: { location: QueueLocation; jobs: number; name?: string; log(e: WorkerLog): void; lockMs?: number; limitWindowMs?: number; executor?: BatchExecutor; blobs?: OutputBlobs | null },
): Promise<{ worker: QueueWorker; close(): void }> {
  const { inputs } = ws;
  const shared = o.blobs !== undefined ? (o.blobs && { blobs: o.blobs, close: () => undefined }) : await outputBlobs(inputs, null);
  const runs = storeLayout(inputs.pipeline.dir).root;
  const worker = new QueueWorker({
    connection: connectionOf(o.location),
    name: o.name ?? `${hostname()}:${process.pid}`,
    concurrency: o.jobs,
    executor: o.executor ?? localExecutor(inputs, { jobs: o.jobs }).executor,
    parts: (phase) => checkoutParts(inputs, phase),
    // The coordinator's .cf/runs/PHASE/BATCH[/…] as .cf/worker-runs/PHASE/BATCH[/…] here (a coordinator that keeps no files still gets them here).
    runDir: (spec) => path.join(runs, 'worker-runs', spec.runDir ? path.relative(path.join('.cf', 'runs'), spec.runDir) : path.join(spec.phase, String(spec.batch))),
    blobs: shared?.blobs ?? null,
    log: o.log,
    ...(o.lockMs !== undefined ? { lockMs: o.lockMs } : {}),
    ...(o.limitWindowMs !== undefined ? { limitWindowMs: o.limitWindowMs } : {}),
  });
  return { worker, close: () => shared?.close() };
}
