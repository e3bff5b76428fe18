import type { ErrorObject } from 'ajv';

/*
 * What ajv reports about a value, as the problems a person (or the agent, in its retry prompt) can act on:
 * one per thing wrong, each at the JSON pointer of the value that is wrong, saying what was expected and
 * what is there (`/legos/2/type: must be "A" or "M", not "X"`). ajv with allErrors reports every failing
 * keyword, including each failing branch of an anyOf: those are narrowed to the branch the value meant.
 */

/** One thing wrong with a value: where (a JSON pointer into it; "" for the value itself) and what. */
export interface SchemaProblem {
  pointer: string;
  message: string;
  /** The pointer's last step is the key that is wrong (a misspelt keyword), not its value. */
  key?: boolean;
}

/** The problems of one value, in ajv's order (the schema's), without repeats. */
export function schemaProblems(errors: readonly ErrorObject[]): SchemaProblem[] {
  const out: SchemaProblem[] = [];
  const seen = new Set<string>();
  for (const e of condense(errors)) {
    const p = problem(e);
    const key = `${p.pointer}\u0000${p.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(p);
  }
  return out;
}

/** How a problem reads: `/legos/2/type: must be "A" or "M"`, or the message alone for the value itself. */
export function describeProblem(p: SchemaProblem): string {
  return p.pointer ? `${p.pointer}: ${p.message}` : p.message;
}

const UNION = new Set(['anyOf', 'oneOf']);
/** A branch's own keywords that say the value is not of that branch's form at all. */
const FORM = new Set(['type', 'const', 'enum']);

/**
 * The errors that say what is wrong. An anyOf (or oneOf) whose value is of exactly one branch's form (that
 * branch has no type/const/enum error at its top) reports that branch's errors, not every branch's; else
 * one error listing the forms. Innermost unions first, so an outer one sees its branches already narrowed.
 * A branch that is a $ref reports its errors at the referenced schema's path, not under the anyOf: those
 * are the errors just before the anyOf's, about the same value, outside the schema holding the anyOf; when no
 * inline branch fits the value's form, they are taken as the branch that does.
 * `if` errors go (the `then`/`else` errors say what is wrong); so do `propertyNames` wrappers (the error
 * about the name itself follows, with its propertyName).
 */
function condense(errors: readonly ErrorObject[]): ErrorObject[] {
  let list = errors.filter((e) => e.keyword !== 'if' && e.keyword !== 'propertyNames');
  const unions = list.filter((e) => UNION.has(e.keyword) && !(e.keyword === 'oneOf' && (e.params as { passingSchemas?: unknown }).passingSchemas));
  unions.sort((a, b) => b.schemaPath.length - a.schemaPath.length);
  for (const u of unions) {
    const at = list.indexOf(u);
    if (at < 0) continue;
    const prefix = `${u.schemaPath}/`;
    const parent = u.schemaPath.slice(0, u.schemaPath.lastIndexOf('/') + 1);
    // A branch's own top keyword: <anyOf path>/<branch>/<keyword>.
    const depth = prefix.split('/').length + 1;
    const branches = new Map<string, ErrorObject[]>();
    const viaRef: ErrorObject[] = [];
    // Back from the anyOf's error over its branches' (a sibling keyword's error ends them).
    for (let i = at - 1; i >= 0 && within(list[i]!.instancePath, u.instancePath); i--) {
      const e = list[i]!;
      if (!e.schemaPath.startsWith(prefix)) {
        if (e.schemaPath.startsWith(parent)) break;
        viaRef.push(e);
        continue;
      }
      const b = e.schemaPath.slice(prefix.length).split('/')[0]!;
      branches.set(b, [e, ...(branches.get(b) ?? [])]);
    }
    const inBranches = new Set([...branches.values()].flat());
    const formOk = [...branches.values()].filter(
      (errs) => !errs.some((e) => e.instancePath === u.instancePath && FORM.has(e.keyword) && e.schemaPath.split('/').length === depth),
    );
    if (formOk.length === 1) {
      const keep = new Set(formOk[0]);
      list = list.filter((e) => e !== u && !viaRef.includes(e) && (!inBranches.has(e) || keep.has(e)));
    } else if (formOk.length === 0 && viaRef.length > 0) {
      list = list.filter((e) => e !== u && !inBranches.has(e));
    } else {
      list = list.filter((e) => !inBranches.has(e) && !viaRef.includes(e));
    }
  }
  return list;
}

/** A JSON pointer at or under another. */
function within(pointer: string, base: string): boolean {
  return pointer === base || pointer.startsWith(`${base}/`);
}

function problem(e: ErrorObject): SchemaProblem {
  const p = e.params as Record<string, unknown>;
  const pointer = e.instancePath;
  const not = 'data' in e ? `, not ${shown(e.data)}` : '';
  const name = typeof e.propertyName === 'string' ? `the property name ${JSON.stringify(e.propertyName)} ` : '';
  switch (e.keyword) {
    case 'required':
      return { pointer, message: `missing the required property ${JSON.stringify(p.missingProperty)}` };
    case 'additionalProperties':
      return { pointer, message: `has the property ${JSON.stringify(p.additionalProperty)}, which the schema does not allow` };
    case 'unevaluatedProperties':
      return { pointer, message: `has the property ${JSON.stringify(p.unevaluatedProperty)}, which the schema does not allow` };
    case 'enum':
      return { pointer, message: `${name}must be ${orList((p.allowedValues as unknown[]) ?? [])}${name ? '' : not}` };
    case 'const':
      return { pointer, message: `must be ${JSON.stringify(p.allowedValue)}${not}` };
    case 'type':
      return { pointer, message: `must be ${types(p.type)}${'data' in e ? `, not ${kind(e.data)}` : ''}` };
    case 'pattern':
      return { pointer, message: name ? `${name}does not match ${String(p.pattern)}` : `must match ${String(p.pattern)}${not}` };
    case 'format':
      return { pointer, message: `${name}must be a valid ${String(p.format)}${name ? '' : not}` };
    case 'anyOf':
    case 'oneOf': {
      const branches = Array.isArray(e.schema) ? (e.schema as unknown[]) : [];
      if (e.keyword === 'oneOf' && p.passingSchemas) return { pointer, message: `must match exactly one of its ${branches.length} forms (oneOf), but matches several` };
      return { pointer, message: `must be ${orList(branches.map(formOf), false)}${'data' in e ? `, not ${kind(e.data)}` : ''}` };
    }
    case 'false schema':
      return { pointer, message: 'is not allowed here' };
    default:
      return { pointer, message: `${name}${e.message ?? `fails ${e.keyword}`}` };
  }
}

/** A value as an error shows it: JSON, cut to 40 characters. */
function shown(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 40 ? `${s.slice(0, 39)}…` : s;
}

/** What a value is, for "must be a string, not a number". */
function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `a string (${shown(v)})`;
  return String(v);
}

const ARTICLE: Record<string, string> = { object: 'an object', array: 'an array', integer: 'an integer', string: 'a string', number: 'a number', boolean: 'true or false', null: 'null' };

function types(t: unknown): string {
  const list = (Array.isArray(t) ? t : String(t).split(',')).map((x) => ARTICLE[String(x)] ?? String(x));
  return list.length <= 1 ? (list[0] ?? 'of another type') : `${list.slice(0, -1).join(', ')} or ${list.at(-1)!}`;
}

/** A branch of an anyOf as "must be …" names it: its type, its value, or the properties it requires. */
function formOf(s: unknown): string {
  if (typeof s !== 'object' || s === null) return s === true ? 'anything' : 'nothing';
  const o = s as Record<string, unknown>;
  if ('const' in o) return JSON.stringify(o.const);
  if (Array.isArray(o.enum)) return orList(o.enum);
  if (typeof o.$ref === 'string') return `a ${o.$ref.split('/').at(-1)}`;
  const t = o.type !== undefined ? types(o.type) : 'a value';
  const required = Array.isArray(o.required) ? (o.required as unknown[]).map(String) : [];
  return required.length ? `${t} with ${required.map((r) => JSON.stringify(r)).join(', ')}` : t;
}

/** `"A" or "M"`, `"a", "b" or "c"` (at most 10 listed). */
function orList(values: readonly unknown[], json = true): string {
  const shownValues = values.slice(0, 10).map((v) => (json ? JSON.stringify(v) : String(v)));
  if (values.length > 10) return `one of ${shownValues.join(', ')}, …`;
  if (shownValues.length <= 1) return shownValues[0] ?? 'nothing';
  return `${shownValues.slice(0, -1).join(', ')} or ${shownValues.at(-1)!}`;
}
