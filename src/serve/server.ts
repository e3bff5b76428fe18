import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { correct, correctionStates, dropCorrections, keepCorrections, type CorrectionChange, type CorrectionOutcome } from '../app/corrections.js';
import type { Workspace } from '../app/workspace.js';
import type { StampedEvent } from '../events/types.js';
import { scrubSecrets } from '../util/secrets.js';
import { ATTEMPT_FILES, attemptDirs, batchDetail, findBatch, readEnd, type AttemptFile } from './batchView.js';
import type { Hub } from './hub.js';
import { CLIENT_JS } from './page/client.js';
import { pageHtml } from './page/html.js';

/*
 * The dashboard's HTTP server (node:http: a handful of routes, server-sent events and a JSON body need no
 * framework). One page (page/: plain HTML and JavaScript, served by cf, nothing fetched from elsewhere)
 * and its API. Safe by default: it binds 127.0.0.1, where reads need no token but the Host header must
 * name the loopback (a page elsewhere cannot reach it by DNS rebinding); any other address needs the token
 * on every request. Writes (corrections) always need it, in a header (a form or a page elsewhere cannot
 * send one); the page gets it from the server that serves it. Files are served by phase, batch and attempt
 * only (looked up among the batch's run directories), never by a path from the request; everything served
 * is scrubbed of the secrets cf knows.
 */

export interface ServeSettings {
  host: string;
  port: number;
  /** null: a token is generated (printed by the command when the address needs one). */
  token: string | null;
}

export interface ServeDeps {
  /** The workspace as it is now (opened again for each request: inputs may have changed). */
  workspace(): Promise<Workspace>;
  hub: Hub;
  /** A correction was saved or dropped (cf watch --serve rebuilds from it). */
  onCorrection?(file: string): void;
}

export interface DashboardServer {
  url: string;
  port: number;
  token: string;
  /** Whether every request needs the token (an address other than the loopback). */
  tokenRequired: boolean;
  close(): Promise<void>;
}

/** The addresses served without a token for reads (any other, 127.0.0.2 included, needs it on every request). */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '127.0.0.1';
}

const SECURITY_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
};

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type });
  res.end(scrubSecrets(body));
}

function json(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));
}

function notFound(res: ServerResponse): void {
  json(res, 404, { error: 'not found' });
}

async function body(req: IncomingMessage, limit = 1 << 20): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > limit) throw new Error('the request body is too large');
    chunks.push(c as Buffer);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

/** A whole attempt file, or its last 5 MB. */
async function readCapped(file: string, cap = 5 << 20): Promise<string | null> {
  return (await readEnd(file, cap))?.text ?? null;
}

function sse(e: StampedEvent): string {
  return `id: ${e.seq}\ndata: ${scrubSecrets(JSON.stringify(e))}\n\n`;
}

export async function startServer(deps: ServeDeps, settings: ServeSettings): Promise<DashboardServer> {
  const token = settings.token ?? randomBytes(18).toString('base64url');
  const tokenRequired = !isLoopback(settings.host);
  const expected = Buffer.from(token);
  const matches = (given: string | null | undefined): boolean => {
    if (!given) return false;
    const b = Buffer.from(given);
    return b.length === expected.length && timingSafeEqual(b, expected);
  };
  const headerToken = (req: IncomingMessage): string | null => {
    const h = req.headers['x-cf-token'];
    if (typeof h === 'string') return h;
    const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    return auth?.[1] ?? null;
  };
  const streams = new Set<ServerResponse>();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://cf.invalid');
    if (!tokenRequired) {
      // On the loopback, only a Host naming it: a page elsewhere reaching 127.0.0.1 by DNS rebinding is refused.
      const hostname = (req.headers.host ?? '').replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
      if (!isLoopback(hostname)) return json(res, 403, { error: 'the Host header does not name this machine' });
    }
    const authorized = matches(headerToken(req)) || (req.method === 'GET' && matches(url.searchParams.get('token')));
    if (tokenRequired && !authorized) return json(res, 401, { error: 'this dashboard needs its token: open the address cf serve printed (?token=…)' });
    let parts: string[];
    try {
      parts = url.pathname.split('/').slice(1).map(decodeURIComponent);
    } catch {
      return notFound(res);
    }
    const route = parts.join('/');

    if (req.method === 'POST') {
      // Writes always need the token, in a header.
      if (!matches(headerToken(req))) return json(res, 401, { error: 'saving needs the token (the page cf serves sends it)' });
      if (route === 'api/corrections' || route === 'api/corrections/keep' || route === 'api/corrections/drop') return write(route, req, res);
      return notFound(res);
    }
    if (req.method !== 'GET') return json(res, 405, { error: 'GET or POST' });

    if (route === '') return send(res, 200, 'text/html; charset=utf-8', pageHtml(token));
    if (route === 'app.js') return send(res, 200, 'text/javascript; charset=utf-8', CLIENT_JS);
    if (route === 'api/progress') return json(res, 200, deps.hub.model.progress());
    if (route === 'api/events') return events(req, res, url);
    if (route === 'api/failures') {
      const phase = url.searchParams.get('phase');
      const rule = url.searchParams.get('rule');
      const failures = deps.hub.model
        .failures()
        .filter((f) => !phase || f.phase === phase)
        .map((f) => ({ ...f, errors: f.errors.filter((e) => !rule || (e.rule ?? e.source) === rule) }))
        .filter((f) => !rule || f.errors.length);
      return json(res, 200, { failures });
    }
    if (route === 'api/corrections') return json(res, 200, { corrections: await correctionStates(await deps.workspace()) });
    if (parts[0] === 'api' && parts[1] === 'batches' && (parts.length === 4 || parts.length === 7)) {
      const ws = await deps.workspace();
      const found = findBatch(ws, parts[2]!, parts[3]!);
      if (!found) return notFound(res);
      const target = `${found.phase.name}#${found.batch}`;
      if (parts.length === 4) {
        return json(res, 200, await batchDetail(ws, found.phase, found.batch, { cell: deps.hub.model.cell(target) ?? null, errors: deps.hub.model.errorsOf(target) }));
      }
      // /api/batches/PHASE/BATCH/files/ATTEMPT/FILE: looked up among the batch's run directories.
      const [, , , , what, key, file] = parts as [string, string, string, string, string, string, string];
      if (what !== 'files' || !(file in ATTEMPT_FILES)) return notFound(res);
      const dir = (await attemptDirs(ws, found.phase, found.batch)).find((a) => a.key === key);
      if (!dir || !dir.files.includes(file as AttemptFile)) return notFound(res);
      const text = await readCapped(path.join(dir.dir, ATTEMPT_FILES[file as AttemptFile]));
      return text === null ? notFound(res) : send(res, 200, 'text/plain; charset=utf-8', text);
    }
    return notFound(res);
  };

  /** Server-sent events: what the client missed (Last-Event-ID, or ?since=SEQ&build=ID), then each event as it comes. */
  const events = (req: IncomingMessage, res: ServerResponse, url: URL): void => {
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', connection: 'keep-alive' });
    const since = url.searchParams.get('since');
    const build = url.searchParams.get('build');
    const last = typeof req.headers['last-event-id'] === 'string' ? req.headers['last-event-id'] : since !== null ? `${build ? `${build}:` : ''}${since}` : null;
    res.write(': cf build events\n\n');
    for (const e of deps.hub.since(last)) res.write(sse(e));
    const off = deps.hub.subscribe((e) => res.write(sse(e)));
    const beat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    beat.unref();
    streams.add(res);
    res.on('close', () => {
      off();
      clearInterval(beat);
      streams.delete(res);
    });
  };

  const write = async (route: string, req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let b: Record<string, unknown>;
    try {
      b = (await body(req)) as Record<string, unknown>;
      if (!b || typeof b !== 'object' || typeof b.phase !== 'string' || typeof b.id !== 'string') throw new Error('a JSON object with "phase" and "id"');
    } catch (e) {
      return json(res, 400, { kind: 'error', error: { kind: 'usage', message: `bad request: ${(e as Error).message}` } });
    }
    const ws = await deps.workspace();
    const o = { phase: b.phase as string, id: b.id as string };
    let r: CorrectionOutcome | { dropped: number; file: string } | { error: unknown };
    if (route === 'api/corrections/drop') r = await dropCorrections(ws, o);
    else if (route === 'api/corrections/keep') r = await keepCorrections(ws, o);
    else {
      const change: CorrectionChange | null =
        b.set && typeof b.set === 'object' && !Array.isArray(b.set) ? { set: b.set as Record<string, unknown> } : typeof b.pointer === 'string' && 'value' in b ? { pointer: b.pointer, value: b.value } : null;
      if (!change) return json(res, 400, { kind: 'error', error: { kind: 'usage', message: 'bad request: "set" (the whole item) or "pointer" and "value"' } });
      r = await correct(ws, { ...o, change, ...(typeof b.author === 'string' && b.author ? { author: b.author } : {}) });
    }
    if ('error' in r) return json(res, 400, { kind: 'error', error: r.error });
    if ('kind' in r && r.kind === 'invalid') return json(res, 422, r);
    deps.onCorrection?.(path.resolve(ws.dir, 'file' in r ? r.file : ''));
    void deps.hub.refresh();
    return json(res, 200, r);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) json(res, 500, { error: e instanceof Error ? e.message : String(e) });
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.port, settings.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const shown = settings.host.includes(':') ? `[${settings.host}]` : settings.host;
  return {
    url: `http://${shown}:${port}/`,
    port,
    token,
    tokenRequired,
    close: async () => {
      for (const s of streams) s.end();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
