import type { PhaseConfig } from '../src/config/pipeline.js';
import { attemptSchema } from '../src/exec/schema/runSchema.js';
import { describe, expect, it } from 'vitest';
import { JsonRoundTrip } from '../src/exec/executor.js';
import type { AgentRequest } from '../src/exec/runners/types.js';
import { anthropicMode, anthropicOutput, openAiMode } from '../src/exec/runners/structured.js';
import { batchIds, batchSchema, DRAFT_2020_12 } from '../src/exec/schema/batchSchema.js';
import { KEY, pipeline } from './helpers/apiPipelines.js';
import { useApiTests } from './helpers/apiTests.js';
import { fillSchema, standInModel } from './helpers/schemaModel.js';
import { formatUserError } from '../src/util/errors.js';
import { TWO_PHASES } from './helpers/project.js';
import { Bench, echoAnswer } from './helpers/workspace.js';

/*
 * Structured outputs: a phase's schema sent by the API runners where the model's decoding is held to it
 * (the batch schema: the run's items in order, each id a const), against the fake API with a stand-in model
 * that fills a schema when it is given one (schemaModel.ts), through the composed Workspace in memory. The
 * exact request for a 3-item batch, per runner and mode; the answer taken back (an object keyed by id, a
 * tool's input) into cf's own check, which still retries what violates the item schema.
 */

const SCHEMA = `    schema:
      type: object
      properties:
        id: {type: string}
        text: {type: string, minLength: 1}
        level: {type: integer, minimum: 1, maximum: 5}
      required: [id, text, level]
      additionalProperties: false
`;
const IDS = ['S0001', 'S0002', 'S0003'];
const ANSWERS = IDS.map((id) => ({ id, text: `t(seed number ${Number(id.slice(1))})`, level: 1 }));

const t = useApiTests({
  setup: (a) => {
    // It means to write level 0, below the schema's minimum: held to a schema, it writes 1.
    a.answer = standInModel({ item: (it) => ({ id: it.id, text: `t(${String(it.text)})`, level: 0 }), defects: [], rate: 0 });
  },
});

/** One phase `pairs` with SCHEMA, run by `runner` (YAML at 4 spaces), over `seeds` seeds in batches of 10. */
async function project(runner: string, seeds = 3, schema = SCHEMA): Promise<Bench> {
  return t.project(pipeline(runner, schema), seeds);
}

const sent = (path: string): any[] => t.api.requests.filter((q) => q.path === path).map((q) => q.body);

/** The item as OpenAI's strict mode gets it: without its id (the key), every property required, no others, minLength in the description. */
const STRICT_ITEM = {
  type: 'object',
  properties: { text: { type: 'string', description: '(minLength: 1)' }, level: { type: 'integer', minimum: 1, maximum: 5 } },
  required: ['text', 'level'],
  additionalProperties: false,
};
/** The batch in object form: one property per item id, in order, each the item schema (sent once, in $defs). */
const keyed = (item: object): object => ({
  type: 'object',
  description: 'The items, each under its id, in this order.',
  properties: Object.fromEntries(IDS.map((id) => [id, { $ref: '#/$defs/item' }])),
  required: IDS,
  additionalProperties: false,
  $defs: { item },
});

describe('kind: openai sends the batch schema as response_format', () => {
  it('strict (OpenAI: no base_url): an object keyed by the ids, in order; the answer goes back to an array and merges', async () => {
    const b = await project('    kind: openai\n    model: gpt-4.1-mini');
    t.setEnv({ OPENAI_API_KEY: KEY, OPENAI_BASE_URL: `${t.api.url}/v1` });
    const r = await b.build();
    expect(r.exitCode).toBe(0);
    expect(sent('/v1/chat/completions').map((x) => x.response_format)).toEqual([
      { type: 'json_schema', json_schema: { name: 'pairs', strict: true, schema: keyed(STRICT_ITEM) } },
    ]);
    expect(JSON.parse(b.output('out/pairs.json')!)).toEqual(ANSWERS);
  });

  it('loose (any other server, e.g. llama.cpp): the array itself, prefixItems with the ids, exactly 3 of them', async () => {
    const b = await project(`    kind: openai\n    model: local\n    base_url: ${t.api.url}/v1`);
    const r = await b.build();
    expect(r.exitCode).toBe(0);
    const item = (id: string): object => ({
      type: 'object',
      properties: { id: { type: 'string', const: id }, text: { type: 'string', minLength: 1 }, level: { type: 'integer', minimum: 1, maximum: 5 } },
      required: ['id', 'text', 'level'],
      additionalProperties: false,
    });
    expect(sent('/v1/chat/completions').map((x) => x.response_format)).toEqual([
      { type: 'json_schema', json_schema: { name: 'pairs', strict: false, schema: { $schema: DRAFT_2020_12, type: 'array', prefixItems: IDS.map(item), minItems: 3, maxItems: 3 } } },
    ]);
    expect(JSON.parse(b.output('out/pairs.json')!)).toHaveLength(3);
  });

  it('structured: off sends none (the schema is cf\'s check only); a phase without a schema sends none', async () => {
    const b = await project(`    kind: openai\n    model: local\n    base_url: ${t.api.url}/v1\n    structured: off`);
    const off = await b.build();
    expect(off.exitCode).toBe(1);
    expect(off.events.find((e) => e.event === 'failed')).toMatchObject({ attempts: 3, errors: expect.arrayContaining([expect.objectContaining({ item: 'S0001', message: '/level: must be >= 1' })]) });
    await b.write('pipeline.yaml', pipeline(`    kind: openai\n    model: local\n    base_url: ${t.api.url}/v1`));
    expect((await b.build()).exitCode).toBe(0);
    const bodies = sent('/v1/chat/completions');
    expect(bodies).toHaveLength(4);
    expect(bodies.every((x) => x.response_format === undefined)).toBe(true);
  });

  it('a server that refuses the schema: the failure says what was sent and which setting to change', async () => {
    const b = await project(`    kind: openai\n    model: local\n    base_url: ${t.api.url}/v1`);
    t.api.enqueue('chat', { status: 400, body: { error: { message: 'JSON schema conversion failed', type: 'invalid_request_error' } } });
    const r = await b.build();
    expect(r.exitCode).toBe(1);
    expect(r.events.find((e) => e.event === 'failed')).toMatchObject({
      attempts: 1,
      errors: [expect.objectContaining({ message: expect.stringContaining("(the request carried the phase's schema (structured: loose): if the server does not take it, set structured: loose or off on runner model)") })],
    });
  });
});

describe('kind: anthropic sends it as the output format, or as a forced tool', () => {
  /** As the SDK's transformJSONSchema leaves the strict form: keywords the API does not enforce go to descriptions. */
  const FORMAT_ITEM = {
    type: 'object',
    properties: { text: { type: 'string', description: '(minLength: 1)' }, level: { type: 'integer', description: '{minimum: 1, maximum: 5}' } },
    additionalProperties: false,
    required: ['text', 'level'],
  };

  it('output_config.format for a model that takes it (claude-haiku-4-5); the answer text is the keyed object', async () => {
    const b = await project(`    kind: anthropic\n    model: claude-haiku-4-5\n    base_url: ${t.api.url}`);
    t.setEnv({ ANTHROPIC_API_KEY: KEY });
    const r = await b.build();
    expect(r.exitCode).toBe(0);
    const [body] = sent('/v1/messages');
    expect(body.output_config).toEqual({ format: { type: 'json_schema', schema: keyed(FORMAT_ITEM) } });
    expect(body.tools).toBeUndefined();
    // The prompt cache as before: the intelligence in a system block marked cache_control.
    expect(body.system[0].cache_control).toEqual({ type: 'ephemeral' });
    // The stand-in reads "{minimum: 1, …}" in the description, as a model does.
    expect(JSON.parse(b.output('out/pairs.json')!)).toEqual(ANSWERS);
  });

  it('a forced tool for a model without structured outputs (claude-3-5-haiku-latest); its input is the answer', async () => {
    const b = await project(`    kind: anthropic\n    model: claude-3-5-haiku-latest\n    base_url: ${t.api.url}`);
    t.setEnv({ ANTHROPIC_API_KEY: KEY });
    const r = await b.build();
    expect(r.exitCode).toBe(0);
    const [body] = sent('/v1/messages');
    expect(body.output_config).toBeUndefined();
    expect(body.tools).toEqual([
      { name: 'answer', description: 'Hand in the answer: the output item of every input item, under its id, in the order given.', input_schema: keyed(STRICT_ITEM) },
    ]);
    expect(body.tool_choice).toEqual({ type: 'tool', name: 'answer' });
    expect(JSON.parse(b.output('out/pairs.json')!)).toEqual(ANSWERS);
  });

  it('mode: batch: each request of the Message Batch carries it, and its answer is read back the same way', async () => {
    const b = await project(`    kind: anthropic\n    model: claude-haiku-4-5\n    base_url: ${t.api.url}\n    mode: batch\n    poll_interval: 10ms`, 13);
    t.setEnv({ ANTHROPIC_API_KEY: KEY });
    const r = await b.build();
    expect(r.exitCode).toBe(0);
    const [create] = sent('/v1/messages/batches').filter((x) => x?.requests);
    const params = create.requests.map((q: { params: any }) => q.params);
    expect(params.map((p: any) => Object.keys(p.output_config.format.schema.properties))).toEqual([
      ['S0001', 'S0002', 'S0003', 'S0004', 'S0005', 'S0006', 'S0007', 'S0008', 'S0009', 'S0010'],
      ['S0011', 'S0012', 'S0013'],
    ]);
    expect(JSON.parse(b.output('out/pairs.json')!)).toHaveLength(13);
  });
});

describe("cf's own check still decides", () => {
  it('an answer violating the item schema is retried with errors naming the item and the pointer', async () => {
    const b = await project(`    kind: openai\n    model: local\n    base_url: ${t.api.url}/v1`);
    let n = 0;
    t.api.answer = (body) => {
      const items = fillSchema(body.response_format.json_schema.schema) as Array<Record<string, unknown>>;
      if (n++ === 0) items[1]!.level = 9; // a server whose grammar left out the bound
      return JSON.stringify(items);
    };
    const r = await b.build();
    expect(r.exitCode).toBe(0);
    expect(r.events.find((e) => e.event === 'retried')).toMatchObject({ errors: [{ item: 'S0002', message: '/level: must be <= 5', source: 'validator' }] });
    expect(sent('/v1/chat/completions')[1].messages[1].content).toContain('- S0002: /level: must be <= 5');
  });
});

describe('the batch schema a runner gets', () => {
  it('items: independent: the packed items of the run, also through a job spec round-tripped through JSON', async () => {
    t.bench = await Bench.create({ seeds: 30, pipeline: TWO_PHASES(`    items: independent\n${SCHEMA.replace('level: {type: integer, minimum: 1, maximum: 5}', 'level: {type: integer}').replace('[id, text, level]', '[id, text]')}`) });
    t.bench.wrapExecutor = (e) => new JsonRoundTrip(e);
    const got: Array<{ ids: string[]; schemaIds: string[] | null; attempt: number }> = [];
    t.bench.agent = (req: AgentRequest) => {
      if (req.phase === 'legos') got.push({ ids: req.inputItems.map((it) => String(it.id)), schemaIds: req.schema ? batchIds(req.schema.batch, 'id') : null, attempt: req.attempt });
      const items = JSON.parse(echoAnswer(req)) as Array<Record<string, unknown>>;
      // S0005 and S0027 (of batches 1 and 2) fail their first attempt: their retry packs them together.
      if (req.phase === 'legos' && req.attempt === 1) for (const it of items) if (it.id === 'S0005' || it.id === 'S0027') it.text = 5;
      return { ok: true, output: JSON.stringify(items) };
    };
    const r = await t.bench.build();
    expect(r.exitCode).toBe(0);
    expect(got.length).toBeGreaterThan(1);
    for (const g of got) expect(g.schemaIds).toEqual(g.ids);
    expect(got.find((g) => g.attempt === 2)?.ids).toEqual(['S0005', 'S0027']);
  });
});

describe('kind: command: the schemas as files of the attempt', () => {
  const AGENT = `import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
const e = process.env;
const read = (f) => readFileSync(f, 'utf8');
writeFileSync(path.join(path.dirname(e.CF_OUTPUT_FILE), 'seen.json'), JSON.stringify({
  schemaFile: e.CF_SCHEMA_FILE, itemSchemaFile: e.CF_ITEM_SCHEMA_FILE,
  schema: JSON.parse(read(e.CF_SCHEMA_FILE)), item: JSON.parse(read(e.CF_ITEM_SCHEMA_FILE)), prompt: read(e.CF_PROMPT_FILE),
}));
writeFileSync(e.CF_OUTPUT_FILE, JSON.stringify(JSON.parse(read(e.CF_INPUT_FILE)).map((it) => ({ id: it.id, text: 'x', level: 1 }))));
`;

  it('CF_SCHEMA_FILE holds the batch schema of the attempt\'s items, CF_ITEM_SCHEMA_FILE the item schema; the prompt names both', async () => {
    const b = await project('    command: [node, agent.mjs]');
    await b.write('agent.mjs', AGENT);
    b.runDirs = true;
    expect((await b.build()).exitCode).toBe(0);
    const dir = b.file('.cf/runs/pairs/1/attempt-1');
    const seen = JSON.parse(await b.read('.cf/runs/pairs/1/attempt-1/seen.json')) as Record<string, any>;
    const item = {
      type: 'object',
      properties: { id: { type: 'string' }, text: { type: 'string', minLength: 1 }, level: { type: 'integer', minimum: 1, maximum: 5 } },
      required: ['id', 'text', 'level'],
      additionalProperties: false,
    };
    expect(seen.itemSchemaFile).toBe(`${dir}/item-schema.json`);
    expect(seen.item).toEqual(item);
    expect(seen.schemaFile).toBe(`${dir}/schema.json`);
    expect(seen.schema).toEqual({
      $schema: DRAFT_2020_12,
      type: 'array',
      prefixItems: IDS.map((id) => ({ ...item, properties: { ...item.properties, id: { type: 'string', const: id } } })),
      items: false,
      minItems: 3,
      maxItems: 3,
    });
    expect(seen.prompt).toContain(
      `to that file: no comments, no prose.\nEach output object must follow the JSON Schema in ${dir}/item-schema.json (the whole array: ${dir}/schema.json).\n`,
    );
  });
});

describe('structured: in pipeline.yaml', () => {
  it('a value another kind takes, or the key on a runner that sends no schema, is refused at its line (exit 2)', async () => {
    const refused = async (runner: string): Promise<string> => {
      const b = await project(runner);
      const r = await b.tryOpen();
      await b.remove();
      t.bench = undefined;
      return r.ok ? 'opened' : formatUserError(r.error).replace(/^.*pipeline\.yaml/, 'pipeline.yaml');
    };
    expect(await refused('    kind: openai\n    model: m\n    structured: format')).toBe(
      'pipeline.yaml:7:17: runners.model.structured: structured: format does not apply to openai runners\n' +
        "  hint: openai runners take strict (OpenAI strict mode), loose (a local server's grammar: llama.cpp, vLLM, Ollama) or off",
    );
    expect(await refused('    command: [node, agent.mjs]\n    structured: off')).toMatch(/^pipeline\.yaml:\d+:\d+: runners\.model\.structured: "structured" is a setting of preset: claude-code and of the API runners\n  hint: a command agent reads the schema from CF_SCHEMA_FILE/);
    expect(await refused('    preset: claude-code\n    structured: format')).toMatch(/runners\.model\.structured: structured: format does not apply to claude-code runners\n  hint: preset: claude-code takes tool \(the CLI's --json-schema/);
    expect(await refused('    preset: claude-code\n    structured: off')).toBe('opened');
    expect(await refused('    kind: anthropic\n    model: m\n    structured: strong')).toMatch(/runners\.model\.structured: .*expected strict, loose or off \(openai runners\), format, tool or off \(anthropic runners\)/);
  });
});

describe('which mode a runner takes by default (structured.ts)', () => {
  it('openai: strict for OpenAI (no base_url, or api.openai.com), loose for any other server; anthropic: format for models with structured outputs, else a tool', () => {
    expect([null, 'https://api.openai.com/v1', 'http://127.0.0.1:8080/v1', 'https://openrouter.ai/api/v1'].map((baseUrl) => openAiMode({ baseUrl, structured: null }))).toEqual(['strict', 'strict', 'loose', 'loose']);
    expect(openAiMode({ baseUrl: null, structured: 'off' })).toBe('off');
    const models = ['claude-haiku-4-5', 'claude-sonnet-4-5-20250929', 'claude-opus-4-1-20250805', 'claude-sonnet-4-20250514', 'claude-opus-4-0', 'claude-3-5-haiku-latest', 'claude-sonnet-5-5', 'llama-3'];
    expect(models.map((m) => anthropicMode({ structured: null }, m))).toEqual(['format', 'format', 'tool', 'tool', 'tool', 'tool', 'format', 'tool']);
  });

  it("a kind's default schema is cf's check only: API runners are not constrained by it (no lost prompt-cache reads)", () => {
    const item = { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] };
    const phase = (implicit: boolean) => ({ schema: { from: { kind: 'x:y' }, schema: item, hash: 'h', ...(implicit ? { implicit: true as const } : {}) } }) as unknown as PhaseConfig;
    expect(attemptSchema(phase(true), ['a'], 'id')?.constrain).toBe(false);
    expect(attemptSchema(phase(false), ['a'], 'id')?.constrain).toBe(true);
  });

  it('anthropic format: a schema with no strict form (a free-form object) goes as a tool instead', () => {
    const item = { type: 'object', properties: { id: { type: 'string' }, extra: { type: 'object' } }, required: ['id', 'extra'] };
    const out = anthropicOutput({ item, batch: batchSchema(item, ['a'], 'id'), idField: 'id', constrain: true }, 'format', (s) => s);
    expect(out?.via).toBe('tool');
  });
});
