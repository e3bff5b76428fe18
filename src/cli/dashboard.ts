import { Workspace } from '../app/workspace.js';
import type { StampedEvent } from '../events/types.js';
import { Hub } from '../serve/hub.js';
import { startServer, type DashboardServer } from '../serve/server.js';
import { snapshot } from '../serve/snapshot.js';
import { fail } from '../util/errors.js';
import type { ServeSettings } from './options.js';

export interface Dashboard {
  server: DashboardServer;
  hub: Hub;
  /** The line that says where it is (with the token when every request needs it). */
  where: string;
  push(e: StampedEvent): void;
  close(): Promise<void>;
}

/**
 * The dashboard of the project in `dir` (cf serve, and build or watch with --serve): what is recorded
 * now, then the events it is given (`push`: the in-process build's, or .cf/events.log's). The workspace is
 * opened again for each request (the inputs may have changed); while they cannot be read (pipeline.yaml
 * half-edited), the last good one answers.
 */
export async function startDashboard(dir: string, settings: ServeSettings, o: { first: Workspace; onCorrection?(file: string): void }): Promise<Dashboard> {
  let good = o.first;
  const current = async (): Promise<Workspace> => {
    const r = await Workspace.open(dir);
    if (r.ok) good = r.value;
    return good;
  };
  const hub = new Hub(await snapshot(good), async () => snapshot(await current()));
  const server = await startServer({ workspace: current, hub, ...(o.onCorrection ? { onCorrection: o.onCorrection } : {}) }, settings).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'EADDRINUSE') fail({ kind: 'usage', message: `port ${settings.port} of ${settings.host} is in use`, hint: 'give another with --port N (0: any free port)' });
    if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND') fail({ kind: 'usage', message: `cannot serve on ${settings.host}: not an address of this machine`, hint: '--host 127.0.0.1 (the default), or an address of one of its interfaces' });
    throw e;
  });
  const where = server.tokenRequired
    ? `the dashboard is at ${server.url}?token=${server.token} (every request needs the token)`
    : `the dashboard is at ${server.url}`;
  return { server, hub, where, push: (e) => hub.push(e), close: () => server.close() };
}
