/**
 * A stand-in model for the fake API (fakeApi.ts). It means to write, for each input item, the item its
 * task wants (WeakModel.item). Given a schema to decode against (OpenAI's response_format, Anthropic's
 * output_config.format or a forced tool) it answers with a value of that schema, as constrained decoding
 * would: what it meant to write where the schema allows it, else the least the schema takes (every const
 * and enum as written, bounds and lengths respected, including those an adapter moved into a description,
 * "(minLength: 1)", "{minimum: 1}", as a model reads them there). Without a schema it answers as a weak
 * model does: the right items, but each with some chance of a defect (a missing or extra property, a wrong
 * type), decided by a hash of the item and the prompt (the same request, the same answer).
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

/** Whether a value is of a type a schema node names (no type named: any). */
function ofType(v: unknown, s: Schema): boolean {
  if (s.type === undefined) return v !== undefined;
  const types = Array.isArray(s.type) ? s.type : [s.type];
  const t = v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'number' ? (Number.isInteger(v) ? 'integer' : 'number') : typeof v;
  return types.includes(t) || (t === 'integer' && types.includes('number'));
}

/**
 * A value of `schema`, deterministic: `want` (what the model would write) where the schema allows it,
 * else the least the schema takes (the const, the first enum value, the lower bound, "x"): constrained
 * decoding keeps what a model says and blocks what the schema forbids. Optional properties only when
 * wanted.
 */
export function fillSchema(schema: unknown, root: Schema = isObject(schema) ? schema : {}, want?: unknown): unknown {
  const s = deref(schema, root);
  if (!isObject(s)) return null;
  if ('const' in s) return s.const;
  if (Array.isArray(s.enum)) return s.enum.some((x) => JSON.stringify(x) === JSON.stringify(want)) ? want : s.enum[0];
  const branches = (s.anyOf ?? s.oneOf) as unknown[] | undefined;
  if (Array.isArray(branches)) {
    const nodes = branches.map((b) => deref(b, root) as Schema);
    const pick = (want !== undefined ? nodes.find((b) => isObject(b) && ofType(want, b)) : undefined) ?? nodes.find((b) => b?.type !== 'null') ?? nodes[0];
    return fillSchema(pick, root, want);
  }
  if (Array.isArray(s.allOf)) return fillSchema(Object.assign({}, ...s.allOf.map((b) => deref(b, root) as Schema)), root, want);
  const types = Array.isArray(s.type) ? s.type : [s.type];
  const type = types.find((t) => t !== 'null') ?? types[0] ?? (s.properties ? 'object' : s.items || s.prefixItems ? 'array' : 'string');
  switch (type) {
    case 'object': {
      const props = isObject(s.properties) ? s.properties : {};
      const required = new Set(Array.isArray(s.required) ? s.required : []);
      const w = isObject(want) ? want : {};
      return Object.fromEntries(Object.entries(props).filter(([k]) => required.has(k) || k in w).map(([k, p]) => [k, fillSchema(p, root, w[k])]));
    }
    case 'array': {
      const w = Array.isArray(want) ? want : [];
      const prefix = Array.isArray(s.prefixItems) ? s.prefixItems.map((p, i) => fillSchema(p, root, w[i])) : [];
      const more = isObject(s.items) ? Math.max(w.length, bound(s, 'minItems') ?? 0) - prefix.length : 0;
      const max = bound(s, 'maxItems') ?? Infinity;
      return [...prefix, ...Array.from({ length: Math.max(0, more) }, (_, i) => fillSchema(s.items, root, w[prefix.length + i]))].slice(0, max);
    }
    case 'integer':
    case 'number': {
      const lo = bound(s, 'minimum') ?? ((bound(s, 'exclusiveMinimum') ?? -1) + 1);
      const hi = bound(s, 'maximum') ?? Infinity;
      if (typeof want === 'number' && want >= lo && want <= hi && (type === 'number' || Number.isInteger(want))) return want;
      const step = bound(s, 'multipleOf') ?? 1;
      return Math.ceil(Math.max(0, lo) / step) * step;
    }
    case 'boolean':
      return typeof want === 'boolean' ? want : false;
    case 'null':
      return null;
    default: {
      const min = Math.max(1, bound(s, 'minLength') ?? 1);
      if (typeof want === 'string' && want.length >= min) return want;
      if (typeof s.format === 'string' && FORMATS[s.format]) return FORMATS[s.format];
      return 'x'.repeat(min);
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
    const wanted = inputItems(body).map((input) => weak.item(input));
    const sent = sentSchema(body);
    if (sent) {
      // What the model means to write, in the form it is asked for: an array, or an object keyed by id.
      const keyedById = sent.schema.type === 'object' && wanted.every((w) => isObject(sent.schema.properties) && String(w.id) in sent.schema.properties);
      return JSON.stringify(fillSchema(sent.schema, sent.schema, keyedById ? Object.fromEntries(wanted.map((w) => [String(w.id), w])) : wanted));
    }
    const user = userText(body);
    const items = inputItems(body).map((input, i) => {
      const item = wanted[i]!;
      const roll = chance(`${String(input.id)}\u0000${user}`);
      if (roll >= weak.rate || !weak.defects.length) return item;
      return weak.defects[Math.floor((roll / weak.rate) * weak.defects.length)]!(item);
    });
    return `Here are the items:\n\n\`\`\`json\n${JSON.stringify(items)}\n\`\`\``;
  };
}
