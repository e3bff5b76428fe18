import { Option } from 'commander';
import { parseQueueUrl, QUEUE_FORMS } from '../config/queueConfig.js';
import { BadValue } from './badValue.js';
import type { OptionValues } from './dashboardArgs.js';

/** The queue's options: build (the coordinator), worker, status. `off`: what --no-queue does (false: no --no-queue). */
export const queueOptions = (what: string, off: string | false = 'run on this machine even when pipeline.yaml or CF_QUEUE name a queue'): Option[] => [
  new Option('--queue <URL>', `${what} (redis://HOST:PORT; also queue: in pipeline.yaml, or CF_QUEUE=URL)`),
  ...(off ? [new Option('--no-queue', off)] : []),
];

/** --queue URL (its form checked here), --no-queue, or neither (pipeline.yaml's, or CF_QUEUE). */
export function queueOf(v: OptionValues): { queue?: string | false } {
  if (typeof v.queue === 'string') {
    const q = parseQueueUrl(v.queue);
    if (!q.ok) throw new BadValue({ kind: 'usage', message: `--queue: ${q.error}`, hint: `a queue is ${QUEUE_FORMS}` });
  }
  return typeof v.queue === 'string' || v.queue === false ? { queue: v.queue } : {};
}

export const WORKER_AFTER = `
Run it in a checkout of the same project (same pipeline.yaml, runners, validators) on each machine. It
refuses a job its checkout would make differently (another worker takes it). SIGTERM or Ctrl-C: it takes
no more jobs and finishes those it runs; a second one stops their agents and gives the jobs back to the
queue for another worker.`;
