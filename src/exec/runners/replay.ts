import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ReplayRunnerConfig } from '../../config/pipeline.js';
import type { Item } from '../../config/seeds.js';
import { detectKind, readDocument } from '../../domains/ssi/formats.js';
import type { AgentRequest, AgentResult, AgentRunner } from './types.js';

/**
 * Answers each batch from a recorded output (a merged SSi document or a JSON array of items), by item id:
 * a whole course can be rebuilt offline, and tests can push real data through the engine. Ids the
 * recording lacks are left out of the answer, so the built-in checks name them.
 */
export class ReplayRunner implements AgentRunner {
  readonly delivery = 'reply' as const;
  private answers: Promise<Map<string, Item>> | undefined;

  constructor(
    private readonly config: ReplayRunnerConfig,
    private readonly dir: string,
    private readonly idField: string,
  ) {}

  private load(): Promise<Map<string, Item>> {
    this.answers ??= (async () => {
      const file = path.resolve(this.dir, this.config.recording);
      const doc: unknown = JSON.parse(await readFile(file, 'utf8'));
      const kind = this.config.as ?? (Array.isArray(doc) && !detectKind(doc) ? null : detectKind(doc));
      let items: Item[];
      if (kind === null) {
        if (!Array.isArray(doc)) throw new Error(`${this.config.recording}: not a JSON array of items nor an SSi document`);
        items = doc as Item[];
      } else {
        const r = readDocument(kind, doc);
        if (!r.ok) throw new Error(`${this.config.recording}: ${r.error}`);
        items = r.items as Item[];
      }
      return new Map(items.map((it) => [String(it[this.idField]), it]));
    })();
    return this.answers;
  }

  async run(req: AgentRequest): Promise<AgentResult> {
    let answers: Map<string, Item>;
    try {
      answers = await this.load();
    } catch (e) {
      return { ok: false, failure: { kind: 'spawn', message: (e as Error).message } };
    }
    const out = req.inputItems.map((it) => answers.get(String(it[this.idField]))).filter((x): x is Item => x !== undefined);
    return { ok: true, output: `${JSON.stringify(out, null, 2)}\n` };
  }
}
