import type Anthropic from '@anthropic-ai/sdk';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AgentRequest, AgentResult } from './types.js';

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
 * answers arrive later and go out as the next round.
 */
export class MessageBatcher {
  private pending: Waiting[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: Promise<Anthropic>,
    private readonly pollIntervalMs: number,
  ) {}

  submit(req: AgentRequest, params: Params, onMessage: Waiting['onMessage'], onError: Waiting['onError']): Promise<AgentResult> {
    return new Promise((resolve) => {
      this.pending.push({ customId: customIdOf(req), params, req, onMessage, onError, resolve });
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(() => void this.flush(), GATHER_MS);
    });
  }

  private async flush(): Promise<void> {
    this.timer = undefined;
    const round = this.pending.filter((w) => !w.req.signal.aborted);
    for (const w of this.pending.filter((x) => x.req.signal.aborted)) w.resolve({ ok: false, failure: { kind: 'cancelled' } });
    this.pending = [];
    if (!round.length) return;
    const byId = new Map(round.map((w) => [w.customId, w]));
    const signal = round[0]!.req.signal;
    let id: string | undefined;
    try {
      const client = await this.client;
      const batch = await client.messages.batches.create({ requests: round.map((w) => ({ custom_id: w.customId, params: w.params })) });
      id = batch.id;
      let status = batch.processing_status;
      while (status !== 'ended') {
        await sleep(this.pollIntervalMs, undefined, { signal });
        status = (await client.messages.batches.retrieve(id)).processing_status;
      }
      for await (const r of await client.messages.batches.results(id)) {
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
    } catch (e) {
      if (signal.aborted) {
        if (id) await (await this.client).messages.batches.cancel(id).catch(() => undefined);
        for (const w of byId.values()) w.resolve({ ok: false, failure: { kind: 'cancelled' } });
      } else {
        for (const w of byId.values()) w.resolve(w.onError(e));
      }
    }
  }
}
