import type Anthropic from '@anthropic-ai/sdk';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AgentRequest, AgentResult } from './types.js';
import { paramsHash, type BatchJournal } from './batchJournal.js';
import { statusOf } from './transport.js';

type Message = Anthropic.Messages.Message;
type Params = Anthropic.Messages.MessageCreateParamsNonStreaming;

interface Waiting {
  customId: string;
  params: Params;
  req: AgentRequest;
  onMessage: (m: Message) => AgentResult;
  onError: (e: unknown) => AgentResult;
  resolve: (r: AgentResult) => void;
}

/** How long requests gather before they go out together: the engine submits a phase's ready batches at once. */
const GATHER_MS = 250;

/** custom_id allows [A-Za-z0-9_-]{1,64}: "lego_pairs#3" attempt 2 → "lego_pairs-3-a2". */
export function customIdOf(req: AgentRequest): string {
  return `${req.phase}-${req.batch}-a${req.attempt}`.replace(/[^A-Za-z0-9_-]/g, '_').slice(-64);
}

/**
 * Gathers requests into Message Batches: all requests submitted within GATHER_MS of each other go out as
 * one batch, which is polled until it ends; each request then gets its own answer. Retries of invalid
 * answers arrive later and go out as the next round. Submitted batches are journaled (BatchJournal): a
 * request an earlier, killed build already submitted is answered from that batch, not submitted again.
 */
export class MessageBatcher {
  private pending: Waiting[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: Promise<Anthropic>,
    private readonly pollIntervalMs: number,
    private readonly journal: BatchJournal | null = null,
    /** The client repeats these calls itself (429, 5xx, resets), up to this many times each: polls of a batch, not generations. */
    private readonly maxRetries = 2,
  ) {}

  submit(req: AgentRequest, params: Params, onMessage: Waiting['onMessage'], onError: Waiting['onError']): Promise<AgentResult> {
    return new Promise((resolve) => this.enqueue({ customId: customIdOf(req), params, req, onMessage, onError, resolve }));
  }

  private enqueue(...waiting: Waiting[]): void {
    this.pending.push(...waiting);
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.flush(), GATHER_MS);
  }

  private async flush(): Promise<void> {
    this.timer = undefined;
    const round = this.pending.filter((w) => !w.req.signal.aborted);
    for (const w of this.pending.filter((x) => x.req.signal.aborted)) w.resolve({ ok: false, failure: { kind: 'cancelled' } });
    this.pending = [];
    if (!round.length) return;
    const signal = round[0]!.req.signal;
    // Requests an earlier build submitted and did not live to read: follow their batches (by custom_id there).
    const resumed = new Map<string, Map<string, Waiting>>();
    const fresh: Waiting[] = [];
    const entries = this.journal ? await this.journal.load().catch(() => []) : [];
    for (const w of round) {
      const h = paramsHash(w.params);
      const entry = entries.find((e) => Object.entries(e.requests).some(([c, x]) => x === h && !resumed.get(e.id)?.has(c)));
      if (!entry) {
        fresh.push(w);
        continue;
      }
      const customId = Object.entries(entry.requests).find(([c, x]) => x === h && !resumed.get(entry.id)?.has(c))![0];
      if (!resumed.has(entry.id)) resumed.set(entry.id, new Map());
      resumed.get(entry.id)!.set(customId, w);
    }
    await Promise.all([
      ...[...resumed].map(([id, byId]) => this.follow(id, byId, signal, null)),
      fresh.length ? this.submitRound(fresh, signal) : Promise.resolve(),
    ]);
  }

  private async submitRound(round: Waiting[], signal: AbortSignal): Promise<void> {
    let batch: Anthropic.Messages.MessageBatch;
    try {
      const client = await this.client;
      batch = await client.messages.batches.create({ requests: round.map((w) => ({ custom_id: w.customId, params: w.params })) }, { maxRetries: this.maxRetries });
    } catch (e) {
      for (const w of round) w.resolve(signal.aborted ? { ok: false, failure: { kind: 'cancelled' } } : w.onError(e));
      return;
    }
    await this.journal
      ?.add({ id: batch.id, created: new Date().toISOString(), requests: Object.fromEntries(round.map((w) => [w.customId, paramsHash(w.params)])) })
      .catch(() => undefined);
    await this.follow(batch.id, new Map(round.map((w) => [w.customId, w])), signal, batch.processing_status);
  }

  /** Polls batch `id` until it ends and hands each waiting request its result. `status`: null when not known yet. */
  private async follow(id: string, byId: Map<string, Waiting>, signal: AbortSignal, status: string | null): Promise<void> {
    const client = await this.client;
    try {
      status ??= (await client.messages.batches.retrieve(id, {}, { maxRetries: this.maxRetries })).processing_status;
      while (status !== 'ended') {
        await sleep(this.pollIntervalMs, undefined, { signal });
        status = (await client.messages.batches.retrieve(id, {}, { maxRetries: this.maxRetries })).processing_status;
      }
      for await (const r of await client.messages.batches.results(id, {}, { maxRetries: this.maxRetries })) {
        const w = byId.get(r.custom_id);
        if (!w) continue;
        byId.delete(r.custom_id);
        switch (r.result.type) {
          case 'succeeded':
            w.resolve(w.onMessage(r.result.message));
            break;
          case 'errored':
            w.resolve({ ok: false, failure: { kind: 'api', message: `batch request errored: ${r.result.error.error.message}`, fatal: false } });
            break;
          default:
            w.resolve({ ok: false, failure: { kind: 'api', message: `batch request ${r.result.type}`, fatal: false } });
        }
      }
      for (const w of byId.values()) w.resolve({ ok: false, failure: { kind: 'api', message: 'the Message Batch returned no result for this request', fatal: false } });
      await this.journal?.drop(id).catch(() => undefined);
    } catch (e) {
      if (signal.aborted) {
        await client.messages.batches.cancel(id, {}, { maxRetries: this.maxRetries }).catch(() => undefined);
        await this.journal?.drop(id).catch(() => undefined);
        for (const w of byId.values()) w.resolve({ ok: false, failure: { kind: 'cancelled' } });
      } else if (statusOf(e) === 404) {
        // A journaled batch the API no longer has (expired, deleted): submit its requests again.
        await this.journal?.drop(id).catch(() => undefined);
        this.enqueue(...byId.values());
      } else {
        for (const w of byId.values()) w.resolve(w.onError(e));
      }
    }
  }
}
