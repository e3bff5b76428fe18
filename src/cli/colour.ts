import { styleText } from 'node:util';

/*
 * Colour on a terminal. Whether a stream gets colour is decided here, once per stream, from the stream and
 * the environment, as the conventions say: FORCE_COLOR set forces it (on, unless "0" or "false"), as Node's
 * own terminal code takes it; else NO_COLOR set to anything but "" turns it off (no-color.org); else a
 * terminal (not TERM=dumb) gets colour and a pipe, a file or CI's log does not. The styling itself is
 * node:util's styleText, which on Node 20 does not look at the stream or the environment (and on 22 is told
 * not to): the decision is this one.
 */

/** The styles cf uses: state words and failures. */
export type Style = 'red' | 'green' | 'yellow' | 'bold' | 'dim';

export function colourEnabled(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force.toLowerCase() !== 'false';
  if (env.NO_COLOR) return false;
  return Boolean(stream.isTTY) && env.TERM !== 'dumb';
}

/** Paints text in styles, or leaves it as it is. */
export type Paint = (style: Style | Style[], text: string) => string;

const style = styleText as (format: Style | Style[], text: string, options?: { validateStream?: boolean }) => string;

export function painter(enabled: boolean): Paint {
  return enabled ? (s, text) => style(s, text, { validateStream: false }) : (_s, text) => text;
}

export const plain: Paint = painter(false);
