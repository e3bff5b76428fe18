import { EventLogFollower } from '../../events/eventLog.js';
import { storeLayout } from '../../store/layout.js';
import { fail } from '../../util/errors.js';
import { startDashboard } from '../dashboard.js';
import { onInterrupt } from '../interrupt.js';
import type { ServeOptions } from '../options.js';
import { openWorkspace } from '../workspace.js';

/**
 * `cf serve`: the dashboard of the project, following the builds of any cf in this directory through
 * .cf/events.log (started before or during a build, it picks it up), and showing the last state when none
 * runs. Until Ctrl-C.
 */
export async function serveCommand(opts: ServeOptions, args: string[]): Promise<number> {
  if (args.length) fail({ kind: 'usage', message: 'cf serve takes no targets', hint: 'cf serve [--port 4280] [--host 127.0.0.1] [--token T]' });
  const ws = await openWorkspace(opts.dir);
  const dashboard = await startDashboard(opts.dir, opts.serve, { first: ws });
  const follower = new EventLogFollower(storeLayout(opts.dir), (e) => dashboard.push(e));
  follower.start();
  process.stdout.write(`cf serve: ${dashboard.where}; Ctrl-C to stop\n`);
  const interrupt = onInterrupt();
  await new Promise<void>((resolve) => interrupt.signal.addEventListener('abort', () => resolve(), { once: true }));
  interrupt.dispose();
  follower.stop();
  await dashboard.close();
  process.stdout.write('cf serve: stopped\n');
  return 130;
}
