/**
 * A stand-in model for the fake API (fakeApi.ts): given a schema to decode against (OpenAI's
 * response_format, Anthropic's output_config.format or a forced tool), it answers with a value of that
 * schema, as constrained decoding would: deterministic, minimal (required properties only), every const
 * and enum taken as written, bounds and lengths respected, including those an adapter moved into a
 * description ("(minLength: 1)", "{minimum: 1}"), as a model reads them there. Without a schema it answers
 * as a weak model does: the right items, but each with some chance of a defect (a missing or extra property,
 * a wrong type), decided by a hash of the item and the prompt (the same request, the same answer).
 */

type Schema = { [key: string]: unknown };

const isObject = (v: unknown): v is Schema => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The schema a request carries for the model's decoding, or null (with the form it came in). */
export function sentSchema(body: any): { schema: Schema; via: 'response_format' | 'output_format' | 'tool' } | null {
  const rf = body?.response_format;
  if (rf?.type === 'json_schema' && isObject(rf.json_schema?.schema)) return { schema: rf.json_schema.schema, via: 'response_format' };
  const of = body?.output_config?.format;
  if (of?.type === 'json_schema' && isObject(of.schema)) return { schema: of.schema, via: 'output_format' };
  const choice = body?.tool_choice;
  if (choice?.type === 'tool' && Array.isArray(body?.tools)) {
    const tool = body.tools.find((t: any) => t?.name === choice.name);
    if (isObject(tool?.input_schema)) return { schema: tool.input_schema, via: 'tool' };
  }
  return null;
}

/** A number a description states for a keyword (what an adapter moved there), or the keyword's own. */
function bound(s: Schema, key: string): number | undefined {
  if (typeof s[key] === 'number') return s[key] as number;
  const m = typeof s.description === 'string' ? new RegExp(`\\b${key}: (-?\\d+(?:\\.\\d+)?)`).exec(s.description) : null;
  return m ? Number(m[1]) : undefined;
}

function deref(s: unknown, root: Schema): unknown {
  let n = s;
  for (let hops = 0; isObject(n) && typeof n.$ref === 'string' && n.$ref.startsWith('#/') && hops < 16; hops++) {
    let t: unknown = root;
    for (const k of n.$ref.slice(2).split('/')) t = isObject(t) ? t[k.replaceAll('~1', '/').replaceAll('~0', '~')] : undefined;
    n = t;
  }
  return n;
}

const FORMATS: Record<string, string> = {
  date: '2025-01-01',
  'date-time': '2025-01-01T00:00:00Z',
  time: '00:00:00Z',
  email: 'a@example.com',
  uuid: '00000000-0000-4000-8000-000000000000',
  uri: 'https://example.com/',
  hostname: 'example.com',
  ipv4: '127.0.0.1',
  ipv6: '::1',
  duration: 'P1D',
};

/** A value of `schema`: deterministic and minimal (see the file's comment). */
export function fillSchema(schema: unknown, root: Schema = isObject(schema) ? schema : {}): unknown {
  const s = deref(schema, root);
  if (!isObject(s)) return null;
  if ('const' in s) return s.const;
  if (Array.isArray(s.enum)) return s.enum[0];
  const branches = (s.anyOf ?? s.oneOf) as unknown[] | undefined;
  if (Array.isArray(branches)) {
    const pick = branches.find((b) => (deref(b, root) as Schema)?.type !== 'null') ?? branches[0];
    return fillSchema(pick, root);
  }
  if (Array.isArray(s.allOf)) return fillSchema(Object.assign({}, ...s.allOf.map((b) => deref(b, root) as Schema)), root);
  const types = Array.isArray(s.type) ? s.type : [s.type];
  const type = types.find((t) => t !== 'null') ?? types[0] ?? (s.properties ? 'object' : s.items || s.prefixItems ? 'array' : 'string');
  switch (type) {
    case 'object': {
      const props = isObject(s.properties) ? s.properties : {};
      const required = new Set(Array.isArray(s.required) ? s.required : []);
      return Object.fromEntries(Object.entries(props).filter(([k]) => required.has(k)).map(([k, p]) => [k, fillSchema(p, root)]));
    }
    case 'array': {
      const prefix = Array.isArray(s.prefixItems) ? s.prefixItems.map((p) => fillSchema(p, root)) : [];
      const min = bound(s, 'minItems') ?? 0;
      const rest = isObject(s.items) ? Array.from({ length: Math.max(0, min - prefix.length) }, () => fillSchema(s.items, root)) : [];
      return [...prefix, ...rest];
    }
    case 'integer':
    case 'number': {
      const min = bound(s, 'minimum') ?? ((bound(s, 'exclusiveMinimum') ?? -1) + 1);
      const lo = Math.max(0, min);
      const step = bound(s, 'multipleOf') ?? 1;
      return Math.ceil(lo / step) * step;
    }
    case 'boolean':
      return false;
    case 'null':
      return null;
    default: {
      if (typeof s.format === 'string' && FORMATS[s.format]) return FORMATS[s.format];
      return 'x'.repeat(Math.max(1, bound(s, 'minLength') ?? 1));
    }
  }
}

/** FNV-1a of a string, in [0, 1). */
function chance(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h / 2 ** 32;
}

function userText(body: any): string {
  const m = Array.isArray(body?.messages) ? [...body.messages].reverse().find((x: any) => x?.role === 'user') : undefined;
  const c = m?.content;
  return typeof c === 'string' ? c : Array.isArray(c) ? c.map((b: any) => (typeof b?.text === 'string' ? b.text : '')).join('') : '';
}

/** The input items of cf's prompt (the ```json block under "## Input items"). */
export function inputItems(body: any): Array<Record<string, unknown>> {
  const user = userText(body);
  const at = user.indexOf('## Input items');
  const m = /```json\s*\n([\s\S]*?)\n```/.exec(at >= 0 ? user.slice(at) : user);
  try {
    const v = m ? (JSON.parse(m[1]!) as unknown) : [];
    return Array.isArray(v) ? (v as Array<Record<string, unknown>>) : [];
  } catch {
    return [];
  }
}

export interface WeakModel {
  /** The output item the task wants for an input item. */
  item(input: Record<string, unknown>): Record<string, unknown>;
  /** Defects an item may get (one is picked when the item gets one). */
  defects: Array<(item: Record<string, unknown>) => Record<string, unknown>>;
  /** The chance that an item gets a defect, per item and per request. */
  rate: number;
}

/**
 * The stand-in's answer (fakeApi.ts `answer`): a schema's value when the request carries one, else a weak
 * model's items, in a ```json block after a line of prose.
 */
export function standInModel(weak: WeakModel): (body: any) => string {
  return (body) => {
    const sent = sentSchema(body);
    if (sent) return JSON.stringify(fillSchema(sent.schema));
    const user = userText(body);
    const items = inputItems(body).map((input) => {
      const item = weak.item(input);
      const roll = chance(`${String(input.id)}\u0000${user}`);
      if (roll >= weak.rate || !weak.defects.length) return item;
      return weak.defects[Math.floor((roll / weak.rate) * weak.defects.length)]!(item);
    });
    return `Here are the items:\n\n\`\`\`json\n${JSON.stringify(items, null, 2)}\n\`\`\``;
  };
}
