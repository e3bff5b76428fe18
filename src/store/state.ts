import { closeSync, fstatSync, openSync, readFileSync, readSync, statSync, writeSync } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import { readTextOrNullSync, writeAtomic, writeAtomicStream } from '../util/fsx.js';
import type { Hash } from '../util/hash.js';
import { scrubSecrets } from '../util/secrets.js';
import type { BatchRecord, FailureRecord, ForgetRecord, ItemRecord, MergeRecord, StateRecord } from './records.js';
import type { TargetId } from '../engine/targets.js';

/** Older successful runs kept per target, so reverting an edit finds its output again without an agent run. */
const HISTORY_PER_TARGET = 5;
/** Older outputs kept per item of an `items: independent` phase. */
const ITEM_HISTORY = 3;
/** History bytes always allowed beyond four times the log before compaction rewrites the history. */
const HISTORY_SLACK = 16 << 20;
/** Superseded bytes always allowed in the log before compaction. */
const COMPACT_BYTES_SLACK = 2 << 20;

/** Records as log lines, one at a time (a log of 100,000 batches is never one string). */
function* lines(records: Iterable<StateRecord>): Generator<string> {
  for (const r of records) yield `${JSON.stringify(r)}\n`;
}

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
 * The build's memory, indexed from an append-only record log. The newest record for a target wins;
 * successful runs are also indexed by key, so any earlier run with the same inputs is found again.
 * Compaction keeps the current records in the log and moves superseded ones (kept for reverts) to a
 * history file that is read only when a key is not found: a build where everything is fresh never reads it.
 */
export class State {
  private readonly history = new Map<TargetId, BatchRecord[]>();
  private readonly failures = new Map<TargetId, FailureRecord>();
  private readonly byKey = new Map<Hash, BatchRecord>();
  private readonly merges = new Map<string, MergeRecord>();
  private readonly itemHistory = new Map<string, ItemRecord[]>();
  private readonly byItemKey = new Map<Hash, ItemRecord>();
  private lines = 0;
  /** Bytes of the log's lines, and of each record's line (to tell how much of the log is superseded). */
  private bytes = 0;
  private readonly lineBytes = new WeakMap<StateRecord, number>();
  /** The forget records applied, for when the history (older records) is read after them. */
  private forgets: ForgetRecord[] = [];
  private historyLoaded = false;
  private historyKeys: Set<string> | undefined;

  constructor(private readonly sink: RecordSink | null) {}

  /** Reads the history file once: its records are older than every record already indexed. */
  private loadHistory(): void {
    if (this.historyLoaded) return;
    this.historyLoaded = true;
    if (!this.sink?.historySize) return;
    // Index the history as if it came first: replay it, then the current records on top. It is read a
    // piece at a time and indexed as it is read (the index keeps a few runs per target): a history of tens
    // of MB is never one string, nor one array of records.
    const current = this.live();
    const forgets = this.forgets;
    this.clear();
    let older = 0;
    this.sink.eachHistoryRecord((r) => {
      older++;
      this.apply(r);
    });
    // What was forgotten stays forgotten: the history's older records of those targets and items too.
    for (const r of forgets) this.apply(r);
    const bytes = this.bytes;
    for (const r of current) this.apply(r);
    this.lines -= older + forgets.length + current.length; // the log's own line count is what it was
    this.bytes = bytes;
  }

  private clear(): void {
    this.forgets = [];
    this.history.clear();
    this.failures.clear();
    this.byKey.clear();
    this.merges.clear();
    this.itemHistory.clear();
    this.byItemKey.clear();
  }

  /** Indexes a record (loading or appending). */
  private apply(r: StateRecord, bytes?: number): void {
    this.lines++;
    if (bytes !== undefined) {
      this.bytes += bytes;
      this.lineBytes.set(r, bytes);
    }
    switch (r.t) {
      case 'batch': {
        const h = (this.history.get(r.target) ?? []).filter((x) => x.key !== r.key);
        h.push(r);
        if (h.length > HISTORY_PER_TARGET) for (const old of h.splice(0, h.length - HISTORY_PER_TARGET)) this.unindex(old);
        this.history.set(r.target, h);
        this.byKey.set(r.key, r);
        this.failures.delete(r.target);
        break;
      }
      case 'fail':
        this.failures.set(r.target, r);
        break;
      case 'merge':
        this.merges.set(r.phase, r);
        break;
      case 'item': {
        const k = `${r.phase}\u0000${r.id}`;
        const h = (this.itemHistory.get(k) ?? []).filter((x) => x.key !== r.key);
        h.push(r);
        if (h.length > ITEM_HISTORY) for (const old of h.splice(0, h.length - ITEM_HISTORY)) if (this.byItemKey.get(old.key) === old) this.byItemKey.delete(old.key);
        this.itemHistory.set(k, h);
        this.byItemKey.set(r.key, r);
        break;
      }
      case 'forget': {
        if (!this.historyLoaded) this.forgets.push(r);
        for (const old of this.history.get(r.target) ?? []) this.unindex(old);
        this.history.delete(r.target);
        this.failures.delete(r.target);
        const phase = r.target.split('#')[0]!;
        if (!r.target.includes('#')) {
          this.merges.delete(phase);
          for (const k of this.itemHistory.keys()) if (k.startsWith(`${phase}\u0000`)) this.forgetItem(k);
        } else {
          for (const id of r.items ?? []) this.forgetItem(`${phase}\u0000${id}`);
        }
        break;
      }
    }
  }

  /** Drops every cached output of one item ("phase\0id"). */
  private forgetItem(k: string): void {
    for (const old of this.itemHistory.get(k) ?? []) if (this.byItemKey.get(old.key) === old) this.byItemKey.delete(old.key);
    this.itemHistory.delete(k);
  }

  /** An item output cached under this item key (items: independent phases). */
  itemWithKey(key: Hash): ItemRecord | undefined {
    const r = this.byItemKey.get(key);
    if (r || !this.inHistory(key)) return r;
    this.loadHistory();
    return this.byItemKey.get(key);
  }

  /** The newest cached output of this item in this phase (what item-level explanations compare with). */
  lastItem(phase: string, id: string): ItemRecord | undefined {
    const h = this.itemHistory.get(`${phase}\u0000${id}`);
    return h?.[h.length - 1];
  }

  private unindex(r: BatchRecord): void {
    if (this.byKey.get(r.key) === r) this.byKey.delete(r.key);
  }

  load(text: string): void {
    forEachRecord(text, (r, bytes) => this.apply(r, bytes));
  }

  append(r: StateRecord): void {
    const line = `${JSON.stringify(r)}\n`;
    this.sink?.append(line);
    this.apply(r, line.length);
  }

  /** The newest successful run of a target (what `explain` compares against). */
  lastSuccess(target: TargetId): BatchRecord | undefined {
    const h = this.history.get(target);
    return h?.[h.length - 1];
  }

  /** The target's failure, when its newest record is one. */
  failure(target: TargetId): FailureRecord | undefined {
    return this.failures.get(target);
  }

  /** A successful run with exactly these inputs, of this or any target (the history is read on a miss). */
  withKey(key: Hash): BatchRecord | undefined {
    const r = this.byKey.get(key);
    if (r || !this.inHistory(key)) return r;
    this.loadHistory();
    return this.byKey.get(key);
  }

  /** Whether the unread history may hold this key (its key list is read once; no list: assume it may). */
  private inHistory(key: Hash): boolean {
    if (this.historyLoaded) return false;
    if (!this.historyKeys) {
      const text = this.sink?.readHistoryKeys();
      if (text === undefined) return false; // in memory: no history
      if (text === null) return true; // no key list (an older cf wrote the history): read it
      this.historyKeys = new Set(text.split('\n'));
    }
    return this.historyKeys.has(key);
  }

  merge(phase: string): MergeRecord | undefined {
    return this.merges.get(phase);
  }

  targets(): TargetId[] {
    return [...new Set([...this.history.keys(), ...this.failures.keys()])];
  }

  /** Records still in use: what compaction keeps. */
  live(): StateRecord[] {
    const out: StateRecord[] = [];
    for (const h of this.history.values()) out.push(...h);
    out.push(...this.failures.values(), ...this.merges.values());
    for (const h of this.itemHistory.values()) out.push(...h);
    return out;
  }

  /** Blobs referenced by live records (the history included). */
  liveObjects(): Set<Hash> {
    this.loadHistory();
    const s = new Set<Hash>();
    for (const h of this.history.values()) for (const r of h) s.add(r.out);
    for (const h of this.itemHistory.values()) for (const r of h) s.add(r.out);
    return s;
  }

  /** The newest record of each target and item, and every failure and merge: what the log keeps. */
  private current(): { current: StateRecord[]; older: StateRecord[] } {
    const current: StateRecord[] = [...this.failures.values(), ...this.merges.values()];
    const older: StateRecord[] = [];
    for (const h of [...this.history.values(), ...this.itemHistory.values()]) {
      current.push(h[h.length - 1]!);
      older.push(...h.slice(0, -1));
    }
    return { current, older };
  }

  /**
   * True when superseded lines are half as many as current ones (and a few hundred at least), or when they
   * take half as many bytes as the current ones (and 2 MB at least): a merge record of a large phase holds
   * every batch's place in the merged file, and one is superseded by every build that reruns a batch.
   */
  needsCompaction(): boolean {
    const current = this.history.size + this.itemHistory.size + this.failures.size + this.merges.size;
    if (this.lines > 1.5 * current + 200) return true;
    if (this.bytes <= COMPACT_BYTES_SLACK) return false;
    let currentBytes = 0;
    for (const r of this.current().current) currentBytes += this.lineBytes.get(r) ?? 0;
    return this.bytes - currentBytes > Math.max(COMPACT_BYTES_SLACK, currentBytes / 2);
  }

  /**
   * Keeps the current records in the log and moves the superseded ones to the history. Usually by appending
   * them (and the forget records, so that a later read of the history still forgets) without reading the
   * history; when the history has grown to several times the log, it is read and rewritten with only what
   * is still kept (HISTORY_PER_TARGET per target); `full` asks for that at once. Says which it did: stored
   * outputs that no record refers to any more are worth deleting only after a rewrite.
   */
  async compact(opts: { full?: boolean } = {}): Promise<'appended' | 'rewritten' | 'none'> {
    if (!this.sink) return 'none';
    const keysOf = (rs: StateRecord[]): string[] => rs.flatMap((r) => ('key' in r && (r.t === 'batch' || r.t === 'item') ? [r.key] : []));
    const historySize = this.sink.historySize ?? 0;
    const logSize = this.sink.size ?? 0;
    if (!opts.full && !this.historyLoaded && historySize <= 4 * logSize + HISTORY_SLACK) {
      const { current, older } = this.current();
      await this.sink.moveToHistory(lines(current), lines([...older, ...this.forgets]), keysOf(older));
      this.lines = current.length;
      this.bytes = this.bytesOf(current);
      return 'appended';
    }
    this.loadHistory();
    const { current, older } = this.current();
    await this.sink.rewrite(lines(current), lines(older), keysOf(older));
    this.lines = current.length;
    this.bytes = this.bytesOf(current);
    return 'rewritten';
  }

  private bytesOf(records: StateRecord[]): number {
    let n = 0;
    for (const r of records) n += this.lineBytes.get(r) ?? 0;
    return n;
  }

  close(): void {
    this.sink?.close();
  }

  /** The log's size as this State last left it (another process appending changes it). */
  get logSize(): number | null {
    return this.sink?.size ?? null;
  }
}

/**
 * The log file: opened for append; a torn last line (kill -9 mid-write) is terminated before appending.
 * `readOnly` (cf status, explain, build -n): the same files are read, the history included, so a read-only
 * command finds every key a build would find; writing is a bug and throws. Lines are scrubbed of secrets
 * as they are written: the last defence (text from agents is scrubbed where it enters cf, util/secrets.ts).
 */
export class FileSink implements RecordSink {
  private fd: number | null = null;

  constructor(
    private readonly file: string,
    private readonly opts: { readOnly?: boolean } = {},
  ) {}

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
    await writeAtomic(`${this.historyFile}.keys`, historyKeys.join('\n'), { durable: true });
    await writeAtomicStream(this.file, bytes(lines), undefined, { durable: true });
  }

  async moveToHistory(lines: Iterable<string>, history: Iterable<string>, historyKeys: string[]): Promise<void> {
    this.writable();
    this.close();
    // History first (as in rewrite): a crash before the log is replaced leaves records in both, which is harmless.
    await appendDurable(this.historyFile, bytes(history));
    if (historyKeys.length) await appendDurable(`${this.historyFile}.keys`, [Buffer.from(`\n${historyKeys.join('\n')}`)]);
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
      return readFileSync(`${this.historyFile}.keys`, 'utf8');
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

  private get historyFile(): string {
    return this.file.replace(/records\.log$/, 'history.log');
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

/**
 * Calls `fn` with each non-empty line of a file, read `chunk` bytes at a time (a line is decoded from its
 * own bytes: a UTF-8 sequence never holds a newline byte). Nothing when the file does not exist.
 */
export function forEachLineOfFile(file: string, fn: (line: string) => void, chunk = 4 << 20): void {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return;
  }
  try {
    const buf = Buffer.allocUnsafe(chunk);
    let carry: Buffer | null = null;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      const data: Buffer = carry ? Buffer.concat([carry, buf.subarray(0, n)]) : buf.subarray(0, n);
      carry = null;
      let start = 0;
      for (;;) {
        const nl = data.indexOf(10, start);
        if (nl === -1) {
          // The next read reuses buf: keep a copy of the unfinished line.
          if (start < data.length) carry = Buffer.from(data.subarray(start));
          break;
        }
        if (nl > start) fn(data.toString('utf8', start, nl));
        start = nl + 1;
      }
    }
    if (carry?.length) fn(carry.toString('utf8'));
  } finally {
    closeSync(fd);
  }
}

/** One log line's record; null for a line torn by a crash mid-write (that record never completed). */
function parseRecord(line: string): StateRecord | null {
  try {
    return JSON.parse(line) as StateRecord;
  } catch {
    return null;
  }
}

/** Calls `fn` with each record of a log's text; a line torn by a crash mid-write is skipped. */
function forEachRecord(text: string, fn: (r: StateRecord, bytes: number) => void): void {
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    const r = line ? parseRecord(line) : null;
    if (r) fn(r, line.length + 1);
  }
}

export const STATE_DIR = '.cf';

export function statePaths(dir: string) {
  const root = path.join(dir, STATE_DIR);
  return {
    root,
    log: path.join(root, 'records.log'),
    objects: path.join(root, 'objects'),
    runs: path.join(root, 'runs'),
    statCache: path.join(root, 'stat-cache.json'),
    lock: path.join(root, 'lock'),
    replaced: path.join(root, 'replaced'),
  };
}

/**
 * The recorded state of a pipeline directory. Read-only or not, keys are looked up the same way (the log,
 * then the history when the log lacks a key): status, explain and --dry-run agree with cf build.
 */
export async function openState(dir: string, opts: { readOnly: boolean }): Promise<State> {
  const p = statePaths(dir);
  const text = readTextOrNullSync(p.log);
  if (!opts.readOnly) await mkdir(p.root, { recursive: true });
  const state = new State(new FileSink(p.log, { readOnly: opts.readOnly }));
  if (text) state.load(text);
  return state;
}
