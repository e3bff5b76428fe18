import { openWorker } from '../../app/queue.js';
import { queueLocation } from '../../config/queueConfig.js';
import type { WorkerLog } from '../../exec/queue/worker.js';
import { killAllChildren } from '../../exec/processes/processes.js';
import { formatDuration } from '../../util/duration.js';
import { fail } from '../../util/errors.js';
import type { WorkerOptions } from '../options.js';
import { openWorkspace } from '../workspace.js';

/*
 * `cf worker --queue URL [-j N]`: takes the jobs `cf build --queue` enqueues and runs them in this checkout
 * until stopped. SIGTERM, SIGINT or SIGHUP: no more jobs are taken, and the running ones finish (exit 0); a
 * second: their agents are stopped (process trees killed) and the jobs go back to the queue for another
 * worker (exit 130); a third exits at once.
 */

function describe(e: WorkerLog, name: string): string {
  switch (e.kind) {
    case 'ready':
      return `cf worker ${name}: waiting for jobs, ${e.concurrency} at once`;
    case 'started':
      return `${e.target} started (for ${e.coordinator})`;
    case 'done':
      return `${e.target} ${e.outcome === 'valid' ? 'done' : e.outcome} in ${formatDuration(e.ms)}`;
    case 'refused':
      return `refused ${e.target}: ${e.reason}`;
    case 'released':
      return `released ${e.target}: back to the queue for another worker`;
    case 'error':
      return `cf worker: ${e.message}`;
  }
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export async function workerCommand(opts: WorkerOptions, args: string[]): Promise<number> {
  if (args.length) fail({ kind: 'usage', message: `cf worker takes no targets ("${args[0]}"): it runs what a cf build --queue enqueues`, hint: 'cf help worker' });
  const ws = await openWorkspace(opts.dir);
  const location = queueLocation(opts.queue ?? null, ws.pipeline.queue ?? null, process.env, ws.pipeline.file);
  if (!location.ok) fail(location.error);
  if (!location.value) fail({ kind: 'usage', message: 'cf worker needs a queue', hint: 'cf worker --queue redis://HOST:PORT (or queue: in pipeline.yaml, or CF_QUEUE=URL)' });
  const where = location.value.url;
  const name = opts.name ?? undefined;
  const print = (e: WorkerLog): void => {
    process.stdout.write(opts.json ? `${JSON.stringify({ ...e, ts: new Date().toISOString() })}\n` : `${describe(e, shown)}\n`);
  };
  const { worker, close } = await openWorker(ws, { location: location.value, jobs: opts.jobs ?? ws.pipeline.jobs, ...(name ? { name } : {}), log: (e) => print(e) });
  const shown = worker.name;
  const why = await worker.start();
  if (why) {
    process.stderr.write(`cf worker: cannot reach the queue ${where}: ${why}\n`);
    await worker.stop(true);
    close();
    return 1;
  }
  const code = await new Promise<number>((resolve) => {
    let signals = 0;
    // Read once the worker has closed: the first signal's stop ends with the second's too (the same close),
    // and a worker that gave its jobs back exits 130 whichever of them resolves first.
    let exitCode = 0;
    const handler = (signal: NodeJS.Signals): void => {
      signals++;
      if (signals === 1) {
        process.stderr.write(`cf worker: ${signal}: taking no more jobs; finishing the ${worker.busy} running (${signal} again to give them back to the queue now)\n`);
        void worker.stop(false).then(() => resolve(exitCode));
      } else if (signals === 2) {
        process.stderr.write(`cf worker: stopping the running agents; their jobs go back to the queue\n`);
        exitCode = 130;
        void worker.stop(true).then(() => resolve(exitCode));
      } else {
        killAllChildren('SIGKILL');
        process.exit(130);
      }
    };
    for (const s of SIGNALS) process.on(s, handler);
  });
  close();
  return code;
}
