import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ReplayRunnerConfig } from '../../config/pipeline.js';
import type { RunnerContext } from '../../config/plugins.js';
import type { Item } from '../../config/seeds.js';
import type { AgentRequest, AgentResult, AgentRunner } from './types.js';

/**
 * Answers each batch from a recorded output (a JSON array of items, or a document of a registered kind:
 * plugins.ts, e.g. a merged SSi document), by item id:
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
    /** The registered document kinds the recording may be (the registry: the runner is made after the domains). */
    private readonly kinds: RunnerContext,
  ) {}

  private load(): Promise<Map<string, Item>> {
    this.answers ??= (async () => {
      const file = path.resolve(this.dir, this.config.recording);
      const doc: unknown = JSON.parse(await readFile(file, 'utf8'));
      const r = this.kinds.readDocument(doc, this.config.as);
      if (!r) throw new Error(`${this.config.recording}: not a JSON array of items nor a document of a known kind (${this.kinds.documentNames().join(', ')})`);
      if (!r.ok) throw new Error(`${this.config.recording}: ${r.error}`);
      return new Map(r.items.map((it): [string, Item] => [String(it[this.idField]), it]));
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
