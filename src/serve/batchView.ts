import { open, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Workspace } from '../app/workspace.js';
import type { PhaseConfig } from '../config/pipeline.js';
import type { Item } from '../config/seeds.js';
import { Analysis } from '../engine/analyze.js';
import { decodeRefs } from '../engine/fingerprint.js';
import { batchTarget } from '../engine/targets.js';
import type { AttemptError } from '../exec/attempts.js';
import { addUsage, emptyTotals } from '../exec/runners/usage.js';
import { formatFreshReason, formatStaleReason } from '../cli/format/reasons.js';
import { describeStatus } from '../cli/format/statuses.js';
import type { BatchCell } from './progress.js';

/** The files of an attempt the dashboard serves, by name: never a path from a request. */
export const ATTEMPT_FILES = { prompt: 'prompt.md', input: 'input.json', output: 'output.json', stdout: 'stdout.log', stderr: 'stderr.log', errors: 'errors.txt' } as const;
export type AttemptFile = keyof typeof ATTEMPT_FILES;

/** How much of stdout and stderr the batch view shows (the whole file is a link). */
const TAIL_BYTES = 4000;

/** One run directory of a batch: an attempt (`a2`), a packed run's attempt (`p3_7a1`), or a check (`assembled`, `edit`, `correction`, `adopt`). */
export interface AttemptDir {
  key: string;
  label: string;
  dir: string;
  files: AttemptFile[];
}

/** A phase and batch named in a request, when they exist (anything else is a 404). */
export function findBatch(ws: Workspace, phaseName: string, batchText: string): { phase: PhaseConfig; batch: number } | null {
  const phase = ws.inputs.graph.phases.find((p) => p.name === phaseName);
  if (!phase || !/^[1-9]\d{0,8}$/.test(batchText)) return null;
  const batch = Number(batchText);
  return batch <= ws.inputs.graph.batchCount ? { phase, batch } : null;
}

async function present(dir: string): Promise<AttemptFile[]> {
  const names = new Set(await readdir(dir).catch(() => [] as string[]));
  return (Object.keys(ATTEMPT_FILES) as AttemptFile[]).filter((f) => names.has(ATTEMPT_FILES[f]));
}

/** The run directories holding a batch's attempts: its own, and those of runs that packed its items with other batches'. */
export async function attemptDirs(ws: Workspace, phase: PhaseConfig, batch: number): Promise<AttemptDir[]> {
  const own = ws.runDir(phase, batch);
  if (!own) return [];
  const out: AttemptDir[] = [];
  const add = async (key: string, label: string, dir: string): Promise<void> => {
    const files = await present(dir);
    if (files.length) out.push({ key, label, dir, files });
  };
  const byNumber = (names: string[]): string[] => names.sort((a, b) => Number(/\d+/.exec(a)?.[0]) - Number(/\d+/.exec(b)?.[0]) || a.localeCompare(b));
  for (const name of byNumber(await readdir(own).catch(() => [] as string[]))) {
    const n = /^attempt-(\d+)$/.exec(name);
    if (n) await add(`a${n[1]}`, `attempt ${n[1]}`, path.join(own, name));
    else if (['assembled', 'edit', 'correction', 'adopt'].includes(name)) await add(name, name, path.join(own, name));
  }
  const parent = path.dirname(own);
  for (const run of (await readdir(parent).catch(() => [] as string[])).filter((n) => /^\d+(\+\d+)+$/.test(n) && n.split('+').includes(String(batch))).sort()) {
    for (const name of byNumber(await readdir(path.join(parent, run)).catch(() => [] as string[]))) {
      const n = /^attempt-(\d+)$/.exec(name);
      if (n) await add(`p${run.replaceAll('+', '_')}a${n[1]}`, `run ${phase.name}#${run}, attempt ${n[1]}`, path.join(parent, run, name));
    }
  }
  return out;
}

/** The last `bytes` of a file (all of a smaller one) and whether it was cut, or null when there is none. */
export async function readEnd(file: string, bytes: number): Promise<{ text: string; cut: boolean } | null> {
  const fh = await open(file, 'r').catch(() => null);
  if (!fh) return null;
  try {
    const { size } = await fh.stat();
    const start = Math.max(0, size - bytes);
    const buf = Buffer.alloc(size - start);
    await fh.read(buf, 0, buf.length, start);
    return { text: buf.toString('utf8'), cut: start > 0 };
  } finally {
    await fh.close();
  }
}

/** The end of a file (at most `bytes`, '…' before it when cut), or null when there is none. */
export async function tail(file: string, bytes = TAIL_BYTES): Promise<string | null> {
  const end = await readEnd(file, bytes);
  return end && (end.cut ? '…' : '') + end.text;
}

/** The start of a file (at most `bytes`), or null when there is none. */
async function head(file: string, bytes: number): Promise<string | null> {
  const fh = await open(file, 'r').catch(() => null);
  if (!fh) return null;
  try {
    const buf = Buffer.alloc(bytes);
    const { bytesRead } = await fh.read(buf, 0, bytes, 0);
    return buf.subarray(0, bytesRead).toString('utf8') + (bytesRead === bytes ? '…' : '');
  } finally {
    await fh.close();
  }
}

export interface BatchDetail {
  target: string;
  phase: string;
  batch: number;
  span: [string, string] | null;
  /** Live: this build's state, else as recorded. */
  cell: BatchCell | null;
  explain: { state: string; reason: string; reasons: string[] };
  last: { at: string; attempts: number; ms: number; adopted?: string; usage: ReturnType<typeof emptyTotals> } | null;
  /** Input → output, item by item; `output` as the phase shows it (corrected), `generated` when a correction changed it. */
  items: Array<{ id: string; input: Item | null; output: Item | null; generated?: Item; corrections: Array<{ pointer?: string; author: string; at: string; older: boolean }> }>;
  /** The output shown is not built for the current inputs (the last one built). */
  outputStale: boolean;
  errors: Array<AttemptError & { type: string }>;
  attempts: Array<{ key: string; label: string; files: AttemptFile[]; stdoutTail: string | null; stderrTail: string | null; errorsText: string | null; promptHead: string | null }>;
}

/** One batch as the dashboard's batch view shows it. */
export async function batchDetail(ws: Workspace, phase: PhaseConfig, batch: number, live: { cell: BatchCell | null; errors: AttemptError[] | null }): Promise<BatchDetail> {
  const target = batchTarget(phase.name, batch);
  const { graph } = ws.inputs;
  const idField = ws.pipeline.idField;
  const store = await ws.openStore(true);
  try {
    const d = ws.inputs.decider(store);
    const analysis = new Analysis(d);
    const status = await analysis.batch(phase, batch);
    const record = status.kind === 'fresh' ? status.record : store.lastSuccess(target);
    const failure = status.kind !== 'fresh' ? store.failure(target) : undefined;
    const reasons = status.kind === 'stale' ? status.reasons.map(formatStaleReason) : status.kind === 'fresh' ? [formatFreshReason(status.reason)] : [describeStatus(status)];
    const [start, end] = graph.batchRange(batch);
    const ids = d.seeds.ids.slice(start, end);

    const inputs = await analysis.inputItems(phase, batch);
    const inputById = new Map((Array.isArray(inputs) ? inputs : []).map((it) => [String(it[idField]), it]));
    let outputs: Item[] = [];
    let generated: Item[] = [];
    if (record) {
      const view = await d.correctedView(phase, record);
      generated = view ? view.generated : (JSON.parse((await store.blobs.get(record.out)) ?? '[]') as Item[]);
      outputs = view ? view.items : generated;
    }
    const outById = new Map(outputs.map((it) => [String(it[idField]), it]));
    const genById = new Map(generated.map((it) => [String(it[idField]), it]));
    const genHash = new Map(record ? decodeRefs(record.items) : []);
    const items = ids.map((id) => {
      const cs = ws.inputs.corrections.ofItem(phase.name, id);
      const out = outById.get(id) ?? null;
      const gen = genById.get(id);
      return {
        id,
        input: inputById.get(id) ?? null,
        output: out,
        ...(cs.length && gen ? { generated: gen } : {}),
        corrections: cs.map((c) => ({ ...(c.pointer ? { pointer: c.pointer } : {}), author: c.author, at: c.at, older: genHash.get(id) !== undefined && genHash.get(id) !== c.base })),
      };
    });

    const errors = (live.errors ?? failure?.errors ?? []).map((e) => ({ ...e, type: e.rule ?? e.source }));
    const attempts = [];
    for (const a of await attemptDirs(ws, phase, batch)) {
      const file = (f: AttemptFile): string => path.join(a.dir, ATTEMPT_FILES[f]);
      attempts.push({
        key: a.key,
        label: a.label,
        files: a.files,
        stdoutTail: await tail(file('stdout')),
        stderrTail: await tail(file('stderr')),
        errorsText: await tail(file('errors'), 20_000),
        promptHead: a.files.includes('prompt') ? await head(file('prompt'), 6000) : null,
      });
    }
    const usage = emptyTotals();
    for (const u of record?.usage ?? []) addUsage(usage, u, u.attempt > 1);
    return {
      target,
      phase: phase.name,
      batch,
      span: ids.length ? [ids[0]!, ids[ids.length - 1]!] : null,
      cell: live.cell,
      explain: { state: status.kind === 'stale' && status.failure ? 'failed' : status.kind, reason: describeStatus(status), reasons },
      last: record ? { at: record.at, attempts: record.attempts, ms: record.ms, ...(record.adopted ? { adopted: record.adopted } : {}), usage } : null,
      items,
      outputStale: status.kind !== 'fresh' && record !== undefined,
      errors,
      attempts,
    };
  } finally {
    store.close();
  }
}
