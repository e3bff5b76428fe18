import { describe, expect, it } from 'vitest';
import { onInterrupt } from '../src/cli/interrupt.js';

/*
 * cf's one handler of SIGINT, SIGTERM and SIGHUP (cli/interrupt.ts): each of them aborts the command's
 * signal as Ctrl-C does. The real process path (a signal to a cf whose agent and validator escaped, exit
 * 130, nothing left running or recorded) is containment.cli.test.ts's, with SIGINT and SIGHUP.
 */
describe('the interrupt handler', () => {
  it('SIGINT, SIGTERM and SIGHUP each abort the command (its first signal), and the handlers go with dispose()', () => {
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      const before = process.listenerCount(sig);
      let first = 0;
      const { signal, dispose } = onInterrupt(() => first++);
      expect(process.listenerCount(sig), sig).toBe(before + 1);
      // The handler as the signal would call it (a real signal to the test process would stop vitest).
      for (const l of process.listeners(sig).slice(before)) (l as (s: NodeJS.Signals) => void)(sig);
      expect(signal.aborted, sig).toBe(true);
      expect(first, sig).toBe(1);
      dispose();
      expect(process.listenerCount(sig), sig).toBe(before);
    }
  });
});
