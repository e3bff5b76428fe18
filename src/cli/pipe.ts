/**
 * `cf build -n | head`, `cf explain … | head`: once the reader of a pipe has gone (EPIPE), what is left to
 * write there is dropped quietly and the command ends as it would have (with its own exit code): the
 * reader asked for no more, and a build half-way must not be torn down because nobody reads its log.
 * A terminal that closed (a hangup: the window or the ssh session went) fails writes with EIO: the same,
 * cf is then stopping its build (interrupt.ts) and has nobody left to tell.
 */
export function quietOnBrokenPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE' || (e.code === 'EIO' && stream.isTTY)) return;
    throw e;
  });
}
