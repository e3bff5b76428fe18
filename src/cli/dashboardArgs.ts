import { Option } from 'commander';
import type { UserError } from '../util/errors.js';
import type { ServeSettings } from './options.js';

/** Option values as commander hands them to an action (keys in camelCase). */
export type OptionValues = Record<string, string | boolean | undefined>;

/** Where the dashboard is served (cf serve; build and watch with --serve, described by `serve`). */
export const serveOptions = (serve: string | null): Option[] => [
  ...(serve ? [new Option('--serve', serve)] : []),
  new Option('--port <N>', 'the port to serve the dashboard on (default 4280; 0: any free port)'),
  new Option('--host <ADDR>', 'the address to bind (default 127.0.0.1; any other needs a token on every request)'),
  new Option('--token <T>', 'the token requests must carry (default: generated when one is needed, and printed)'),
];

/** `cf correct`'s own options. */
export const correctOptions = (): Option[] => [
  new Option('--set <JSON>', 'the whole corrected item'),
  new Option('--pointer <P>', 'a JSON pointer into the item (e.g. /known), with --value'),
  new Option('--value <JSON>', 'the value at --pointer'),
  new Option('--author <A>', 'who corrects (default: your user name)'),
];

/** `cf corrections`' own options. */
export const correctionsOptions = (): Option[] => [
  new Option('--keep <ID>', "keep ID's corrections for the item generated now (re-based, checked again)"),
  new Option('--drop <ID>', "drop ID's corrections: the item is shown as generated"),
];

/** --serve and where (`always`: cf serve, which serves whatever is given); null: not served. */
export function serveSettings(v: OptionValues, always: boolean): ServeSettings | UserError | null {
  if (!always && v.serve !== true) {
    for (const flag of ['port', 'host', 'token'] as const) {
      if (v[flag] !== undefined) return { kind: 'usage', message: `--${flag} is for --serve`, hint: `add --serve, or use cf serve --${flag}` };
    }
    return null;
  }
  const port = v.port === undefined ? 4280 : Number(v.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) return { kind: 'usage', message: `--port wants a port number (0 to 65535), not "${String(v.port)}"`, hint: 'cf help serve' };
  return { host: typeof v.host === 'string' ? v.host : '127.0.0.1', port, token: typeof v.token === 'string' ? v.token : null };
}
