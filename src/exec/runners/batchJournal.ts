import { storeLayout } from '../../store/layout.js';
import { readFile, rm } from 'node:fs/promises';
import { canonicalJson, hashString } from '../../util/hash.js';
import { writeAtomic } from '../../util/fsx.js';

/** The API keeps a Message Batch's results for 29 days; an older entry can only fail. */
const KEEP_MS = 29 * 24 * 3600 * 1000;

/** One submitted Message Batch: its id and, per custom_id not yet answered, the hash of the request's params. */
export interface JournalEntry {
  id: string;
  created: string;
  requests: Record<string, string>;
}

/** The hash a request is found by: its params (model, settings, system and user text), never the key. */
export const paramsHash = (params: unknown): string => hashString(canonicalJson(params));

/**
 * `.cf/message-batches.json`: the Message Batches submitted and not yet answered. A build killed while it
 * waits overnight (kill -9, a lost SSH session, a reboot) finds its batch here next time and follows it,
 * instead of submitting (and paying for) the same requests again. A request leaves the journal when its
 * answer was handed to the engine; an entry, when none of its requests is left.
 */
export class BatchJournal {
  private entries: JournalEntry[] | null = null;
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly file: string) {}

  static forPipeline(dir: string): BatchJournal {
    return new BatchJournal(storeLayout(dir).messageBatches);
  }

  async load(): Promise<JournalEntry[]> {
    if (this.entries) return this.entries;
    const text = await readFile(this.file, 'utf8').catch(() => null);
    let parsed: JournalEntry[] = [];
    try {
      parsed = text ? (JSON.parse(text) as JournalEntry[]) : [];
    } catch {
      parsed = [];
    }
    const now = Date.now();
    this.entries = parsed.filter((e) => now - Date.parse(e.created) < KEEP_MS && Object.keys(e.requests).length > 0);
    return this.entries;
  }

  async add(entry: JournalEntry): Promise<void> {
    (await this.load()).push(entry);
    await this.save();
  }

  /** The answer to custom_id `customId` of batch `id` was delivered: forget it (and the batch once empty). */
  async settle(id: string, customIds: readonly string[]): Promise<void> {
    const entries = await this.load();
    const e = entries.find((x) => x.id === id);
    if (!e) return;
    for (const c of customIds) delete e.requests[c];
    if (Object.keys(e.requests).length === 0) entries.splice(entries.indexOf(e), 1);
    await this.save();
  }

  async drop(id: string): Promise<void> {
    const entries = await this.load();
    const i = entries.findIndex((x) => x.id === id);
    if (i < 0) return;
    entries.splice(i, 1);
    await this.save();
  }

  /** Writes follow one another; the file is written atomically, or removed when nothing is pending. */
  private save(): Promise<void> {
    this.writing = this.writing.then(async () => {
      const entries = this.entries ?? [];
      if (entries.length === 0) await rm(this.file, { force: true });
      else await writeAtomic(this.file, `${JSON.stringify(entries, null, 1)}\n`);
    });
    return this.writing;
  }
}
