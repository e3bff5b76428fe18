import { closeSync, fstatSync, openSync, readFileSync, readSync, statSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { writeAtomic, writeAtomicStream } from '../util/fsx.js';
import { scrubSecrets } from '../util/secrets.js';
import { forEachLineOfFile, parseRecord } from './lines.js';
import type { StateRecord } from './records.js';

/** Where records go: a file (append-only log) or nowhere (in-memory engine tests). */
export interface RecordSink {
  append(line: string): void;
  readonly size: number | null;
  /** Replaces the whole log with these lines, and the history with those (and its keys), atomically. */
  rewrite(lines: Iterable<string>, history: Iterable<string>, historyKeys: string[]): Promise<void>;
  /** Appends these lines to the history (and keys), then replaces the log with `lines`: the history is not read. */
  moveToHistory(lines: Iterable<string>, history: Iterable<string>, historyKeys: string[]): Promise<void>;
  /** The history file's size in bytes (0 when there is none; null in memory). */
  readonly historySize: number | null;
  /** Calls `fn` with each record of the history (superseded runs kept for reverts), oldest first. */
  eachHistoryRecord(fn: (r: StateRecord) => void): void;
  /** The keys the history holds (a small file): asked first, so a miss does not read the history. */
  readHistoryKeys(): string | null;
  close(): void;
}

/**
 * The log file: opened for append; a torn last line (kill -9 mid-write) is terminated before appending.
 * `readOnly` (cf status, explain, build -n): the same files are read, the history included, so a read-only
 * command finds every key a build would find; writing is a bug and throws. Lines are scrubbed of secrets
 * as they are written: the last defence (text from agents is scrubbed where it enters cf, util/secrets.ts).
 */
export class FileSink implements RecordSink {
  private fd: number | null = null;

  private readonly file: string;
  private readonly historyFile: string;
  private readonly historyKeysFile: string;

  /** `files`: the log, the history and its keys (storeLayout), or a log's path with its history beside it. */
  constructor(
    files: { log: string; history: string; historyKeys: string } | string,
    private readonly opts: { readOnly?: boolean } = {},
  ) {
    const f = typeof files === 'string' ? { log: files, history: path.join(path.dirname(files), 'history.log'), historyKeys: path.join(path.dirname(files), 'history.log.keys') } : files;
    this.file = f.log;
    this.historyFile = f.history;
    this.historyKeysFile = f.historyKeys;
  }

  private writable(): void {
    if (this.opts.readOnly) throw new Error(`internal: ${this.file} was opened read-only`);
  }

  private open(): number {
    this.writable();
    if (this.fd !== null) return this.fd;
    const fd = openSync(this.file, 'a+');
    const size = fstatSync(fd).size;
    if (size > 0) {
      const last = Buffer.alloc(1);
      readSync(fd, last, 0, 1, size - 1);
      if (last[0] !== 10) writeSync(fd, '\n');
    }
    this.fd = fd;
    return fd;
  }

  append(line: string): void {
    writeSync(this.open(), scrubSecrets(line));
  }

  get size(): number | null {
    try {
      return statSync(this.file).size;
    } catch {
      return null;
    }
  }

  async rewrite(lines: Iterable<string>, history: Iterable<string>, historyKeys: string[]): Promise<void> {
    this.writable();
    this.close();
    // History first: a crash between the two leaves old records in both files, never in neither.
    await writeAtomicStream(this.historyFile, bytes(history), undefined, { durable: true });
    await writeAtomic(this.historyKeysFile, historyKeys.join('\n'), { durable: true });
    await writeAtomicStream(this.file, bytes(lines), undefined, { durable: true });
  }

  async moveToHistory(lines: Iterable<string>, history: Iterable<string>, historyKeys: string[]): Promise<void> {
    this.writable();
    this.close();
    // History first (as in rewrite): a crash before the log is replaced leaves records in both, which is harmless.
    await appendDurable(this.historyFile, bytes(history));
    if (historyKeys.length) await appendDurable(this.historyKeysFile, [Buffer.from(`\n${historyKeys.join('\n')}`)]);
    await writeAtomicStream(this.file, bytes(lines), undefined, { durable: true });
  }

  get historySize(): number {
    try {
      return statSync(this.historyFile).size;
    } catch {
      return 0;
    }
  }

  readHistoryKeys(): string | null {
    try {
      return readFileSync(this.historyKeysFile, 'utf8');
    } catch {
      return null;
    }
  }

  eachHistoryRecord(fn: (r: StateRecord) => void): void {
    forEachLineOfFile(this.historyFile, (line) => {
      const r = parseRecord(line);
      if (r) fn(r);
    });
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

function* bytes(lines: Iterable<string>): Generator<Uint8Array> {
  for (const l of lines) yield Buffer.from(scrubSecrets(l));
}

/** Appends to a file and makes it durable (fsync) before returning. */
async function appendDurable(file: string, chunks: Iterable<Uint8Array>): Promise<void> {
  const fh = await open(file, 'a');
  try {
    let pending: Uint8Array[] = [];
    let size = 0;
    for (const c of chunks) {
      pending.push(c);
      size += c.length;
      if (size >= 1 << 20) {
        await fh.write(Buffer.concat(pending));
        pending = [];
        size = 0;
      }
    }
    if (pending.length) await fh.write(Buffer.concat(pending));
    await fh.sync();
  } finally {
    await fh.close();
  }
}
