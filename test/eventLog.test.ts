import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EventBus } from '../src/events/bus.js';
import { EventLogFollower, EventLogWriter } from '../src/events/eventLog.js';
import type { BuildEvent, StampedEvent } from '../src/events/types.js';
import { storeLayout } from '../src/store/layout.js';
import { resetSecrets } from '../src/util/secrets.js';

let dir: string | undefined;
afterEach(async () => {
  delete process.env.CF_TEST_EVENTLOG_API_KEY;
  resetSecrets();
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

const planned = (): BuildEvent => ({ event: 'planned', seeds: 2, batches: 1, jobs: 1, fresh: 0, stale: 1, pending: 0, failedBefore: 0, toRun: ['pairs#1'] });

describe('.cf/events.log: the builds\' events on disk, followed by cf serve', () => {
  it('holds every stamped event (scrubbed of secrets); a follower reads it, then what is appended, across a rotation', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cf-eventlog-'));
    const files = storeLayout(dir);
    process.env.CF_TEST_EVENTLOG_API_KEY = 'sk-very-secret-value-123';
    resetSecrets();
    // Rotated when a build starts over 200 bytes.
    const log = new EventLogWriter(files, 200);
    const bus = new EventBus({ buildId: 'b1' });
    bus.subscribe((e) => log.write(e));
    bus.emit(planned());
    bus.emit({ event: 'failed', target: 'pairs#1', phase: 'pairs', batch: 1, batchCount: 1, attempts: 1, errors: [{ attempt: 1, source: 'agent', message: 'the agent printed sk-very-secret-value-123' }] });
    bus.emit({ event: 'summary', ok: false, exitCode: 1, ms: 5, ran: [], fresh: [], failed: ['pairs#1'], skipped: [], merged: [], cancelled: [], stopped: [], usage: {} });
    const text = readFileSync(files.events, 'utf8');
    expect(text).not.toContain('sk-very-secret-value-123');
    expect(text).toContain('the agent printed [secret $CF_TEST_EVENTLOG_API_KEY]');

    const seen: StampedEvent[] = [];
    const follower = new EventLogFollower(files, (e) => seen.push(e));
    follower.start();
    try {
      expect(seen.map((e) => [e.buildId, e.seq, e.event])).toEqual([
        ['b1', 1, 'planned'],
        ['b1', 2, 'failed'],
        ['b1', 3, 'summary'],
      ]);
      // A torn line (a cf killed mid-write) is skipped; the next build starts a new file (over 200 bytes):
      // the follower reads the rest of the old one first.
      appendFileSync(files.events, '{"event": "ran", "seq": 4, "tar\n');
      const second = new EventBus({ buildId: 'b2' });
      second.subscribe((e) => log.write(e));
      second.emit(planned());
      log.flush();
      follower.poll();
      expect(existsSync(files.eventsPrevious)).toBe(true);
      expect(seen.slice(3).map((e) => [e.buildId, e.seq, e.event])).toEqual([['b2', 1, 'planned']]);
      expect(readFileSync(files.events, 'utf8').split('\n').filter(Boolean)).toHaveLength(1);
    } finally {
      follower.stop();
      log.close();
    }
  });
});
