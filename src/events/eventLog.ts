import { closeSync, fstatSync, mkdirSync, openSync, readSync, renameSync, statSync, watch, writeSync, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { StoreLayout } from '../store/layout.js';
import { scrubSecrets } from '../util/secrets.js';
import type { StampedEvent } from './types.js';

/** The log is moved aside (to events.1.log, the one before dropped) when a build starts and it is larger. */
export const ROTATE_BYTES = 8 << 20;
/** Lines written at once: a one-seed edit at 20,000 seeds emits thousands of events in a few ms. */
const FLUSH_BYTES = 64 << 10;
/** How soon buffered events reach the file (a follower sees a batch turn done within this). */
const FLUSH_MS = 50;

type Files = Pick<StoreLayout, 'root' | 'events' | 'eventsPrevious'>;

/**
 * The builds' events on disk, one stamped event a line (.cf/events.log): a subscriber of the build's
 * EventBus, so that `cf serve` in another terminal follows a build as it runs, and shows the last one when
 * none runs. Every line is scrubbed of secrets as it is written, as records.log is (the events' texts were
 * scrubbed where they entered cf). Written in chunks, never more than FLUSH_MS late, and at once for a
 * build's `summary`. Bounded: when a build starts (its `planned` event, emitted under the directory's lock,
 * so no other cf is writing) and the log is over ROTATE_BYTES, it becomes events.1.log and a new one starts;
 * a build is never split across the two. A log that cannot be written (a full disk) is given up quietly:
 * the build matters more than its log.
 */
export class EventLogWriter {
  private fd: number | null = null;
  private pending = '';
  private timer: NodeJS.Timeout | undefined;
  private broken = false;

  constructor(
    private readonly files: Files,
    private readonly rotateBytes = ROTATE_BYTES,
  ) {}

  /** The subscriber: `bus.subscribe((e) => log.write(e))`. */
  write(e: StampedEvent): void {
    if (this.broken) return;
    if (e.event === 'planned') this.rotateIfLarge();
    this.pending += `${scrubSecrets(JSON.stringify(e))}\n`;
    if (e.event === 'summary' || this.pending.length >= FLUSH_BYTES) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), FLUSH_MS);
      this.timer.unref();
    }
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.pending || this.broken) return;
    const text = this.pending;
    this.pending = '';
    try {
      if (this.fd === null) {
        mkdirSync(this.files.root, { recursive: true });
        this.fd = openSync(this.files.events, 'a');
      }
      writeSync(this.fd, text);
    } catch {
      this.broken = true;
    }
  }

  close(): void {
    this.flush();
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private rotateIfLarge(): void {
    this.flush();
    try {
      const size = this.fd !== null ? fstatSync(this.fd).size : statSync(this.files.events).size;
      if (size <= this.rotateBytes) return;
      if (this.fd !== null) closeSync(this.fd);
      this.fd = null;
      renameSync(this.files.events, this.files.eventsPrevious);
    } catch {
      // No log yet: nothing to rotate.
    }
  }
}

/** How often the follower looks at the log besides file-system events (which may not come on every system). */
const POLL_MS = 250;

/**
 * Follows .cf/events.log as `tail -F` does: what it holds first, then every line appended, across a
 * rotation (the rest of the old file is read before the new one). A torn line (a cf killed mid-write) is
 * skipped. `onEvent` gets the events in the order they were written.
 */
export class EventLogFollower {
  private fd: number | null = null;
  private ino = -1;
  private offset = 0;
  private partial = '';
  /** A character split between two reads is decoded whole. */
  private decoder = new StringDecoder('utf8');
  private timer: NodeJS.Timeout | undefined;
  private watcher: FSWatcher | null = null;

  constructor(
    private readonly files: Files,
    private readonly onEvent: (e: StampedEvent) => void,
  ) {}

  /** Reads what the log holds now (synchronously), then keeps following it. */
  start(): void {
    this.poll();
    this.timer = setInterval(() => this.poll(), POLL_MS);
    this.timer.unref();
    this.watchDir();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.watcher?.close();
    this.watcher = null;
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private watchDir(): void {
    if (this.watcher) return;
    try {
      this.watcher = watch(this.files.root, (_kind, name) => {
        if (name === path.basename(this.files.events)) this.poll();
      });
      this.watcher.on('error', () => {
        this.watcher?.close();
        this.watcher = null;
      });
    } catch {
      // .cf/ does not exist yet: the poll finds the log once a build makes it.
    }
  }

  /** Reads whatever was appended since the last look (and the rest of a rotated file first). */
  poll(): void {
    let st: { ino: number; size: number } | null = null;
    try {
      const s = statSync(this.files.events);
      st = { ino: s.ino, size: s.size };
    } catch {
      st = null;
    }
    if (this.fd !== null && (st === null || st.ino !== this.ino || st.size < this.offset)) {
      this.readToEnd();
      closeSync(this.fd);
      this.fd = null;
      this.offset = 0;
      this.partial = '';
      this.decoder = new StringDecoder('utf8');
    }
    if (this.fd === null && st) {
      try {
        this.fd = openSync(this.files.events, 'r');
        this.ino = fstatSync(this.fd).ino;
      } catch {
        return;
      }
      this.watchDir();
    }
    if (this.fd !== null) this.readToEnd();
  }

  private readToEnd(): void {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = readSync(this.fd!, buf, 0, buf.length, this.offset);
      if (n <= 0) break;
      this.offset += n;
      this.lines(this.decoder.write(buf.subarray(0, n)));
    }
  }

  private lines(chunk: string): void {
    const text = this.partial + chunk;
    const parts = text.split('\n');
    this.partial = parts.pop()!;
    for (const line of parts) {
      if (!line) continue;
      let e: StampedEvent;
      try {
        e = JSON.parse(line) as StampedEvent;
      } catch {
        continue;
      }
      if (e && typeof e.event === 'string' && typeof e.seq === 'number') this.onEvent(e);
    }
  }
}
