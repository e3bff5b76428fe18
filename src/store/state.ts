import { mkdir } from 'node:fs/promises';
import { readTextOrNullSync } from '../util/fsx.js';
import type { Hash } from '../util/hash.js';
import { FileSink, type RecordSink } from './fileSink.js';
import { storeLayout } from './layout.js';
import { forEachRecord } from './lines.js';
import { RECORD_FORMAT, type BatchRecord, type FailureRecord, type ForgetRecord, type ItemRecord, type MergeRecord, type StateRecord } from './records.js';
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
      if ((r.v ?? 1) > RECORD_FORMAT) return;
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
    forEachRecord(text, (r, bytes) => {
      // A record of a newer format (a newer cf wrote it) is not understood here: as if absent.
      if ((r.v ?? 1) <= RECORD_FORMAT) this.apply(r, bytes);
    });
  }

  /** Appends a record (written with its format version). */
  append(r: StateRecord): void {
    const line = `${JSON.stringify(r.v === RECORD_FORMAT ? r : { v: RECORD_FORMAT, ...r })}\n`;
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

  /**
   * Blobs referenced by live records (the history included); `forgetting`: as if these forget records were
   * applied too (cf clean -n), which this State does not do.
   */
  liveObjects(forgetting: readonly ForgetRecord[] = []): Set<Hash> {
    this.loadHistory();
    const targets = new Set<string>();
    const phases = new Set<string>();
    const items = new Set<string>();
    for (const f of forgetting) {
      const phase = f.target.split('#')[0]!;
      if (!f.target.includes('#')) phases.add(phase);
      else {
        targets.add(f.target);
        for (const id of f.items ?? []) items.add(`${phase}\u0000${id}`);
      }
    }
    const s = new Set<Hash>();
    for (const [t, h] of this.history) if (!targets.has(t)) for (const r of h) s.add(r.out);
    for (const [k, h] of this.itemHistory) if (!items.has(k) && !phases.has(k.split('\u0000')[0]!)) for (const r of h) s.add(r.out);
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
 * The recorded state of a pipeline directory. Read-only or not, keys are looked up the same way (the log,
 * then the history when the log lacks a key): status, explain and --dry-run agree with cf build.
 */
export async function openState(dir: string, opts: { readOnly: boolean }): Promise<State> {
  const p = storeLayout(dir);
  const text = readTextOrNullSync(p.log);
  if (!opts.readOnly) await mkdir(p.root, { recursive: true });
  const state = new State(new FileSink(p, { readOnly: opts.readOnly }));
  if (text) state.load(text);
  return state;
}
