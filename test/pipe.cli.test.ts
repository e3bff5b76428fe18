import { EventEmitter } from 'node:events';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quietOnBrokenPipe } from '../src/cli/pipe.js';
import { CF_BIN, Project, TWO_PHASES } from './helpers/project.js';

let p: Project;
beforeAll(async () => {
  // 2 × 3000 batch targets: far more output than a pipe holds, so the writer meets the closed pipe.
  p = await Project.create({ seeds: 3000, pipeline: TWO_PHASES().replace('batch_size: 20', 'batch_size: 1') });
});
afterAll(async () => {
  await p.remove();
});

/** `cf ARGS | head -1` in a shell: the first line, cf's exit status and what it wrote on stderr. */
async function headOne(args: string): Promise<{ line: string; status: string; stderr: string }> {
  const r = await execa('bash', ['-c', `node ${JSON.stringify(CF_BIN)} ${args} 2>cf.stderr | head -1; echo "status \${PIPESTATUS[0]}"`], { cwd: p.dir, reject: false });
  const [line = '', status = ''] = String(r.stdout).split('\n');
  return { line, status, stderr: await p.read('cf.stderr') };
}

describe('stdout closed early by its reader (| head)', () => {
  it('cf build -n | head: the first line, then a quiet exit 0 (no EPIPE crash)', async () => {
    const r = await headOne('build -n');
    expect(r.line).toBe('would run  pairs#1: never built');
    expect(r.stderr).toBe('');
    expect(r.status).toBe('status 0');
  });

  it('cf explain PHASE | head: likewise', async () => {
    const r = await headOne('explain pairs');
    expect(r.line).toMatch(/^out\/pairs\.json \(phase pairs, 3000 batches\): out of date/);
    expect(r.stderr).toBe('');
    expect(r.status).toBe('status 0');
  });
});

describe('a terminal that hung up (SIGHUP: the window or the ssh session closed)', () => {
  /** A stream that fails as a write fails: an 'error' event. */
  const failing = (isTTY: boolean, code: string): { stream: NodeJS.WriteStream; fail(): void } => {
    const stream = Object.assign(new EventEmitter(), { isTTY }) as unknown as NodeJS.WriteStream;
    return { stream, fail: () => stream.emit('error', Object.assign(new Error(`write ${code}`), { code })) };
  };

  it('a write to it that fails with EIO is dropped quietly, as one to a closed pipe is (cf is stopping its build)', () => {
    const tty = failing(true, 'EIO');
    quietOnBrokenPipe(tty.stream);
    expect(() => tty.fail()).not.toThrow();
    // EIO from a file is a real error.
    const file = failing(false, 'EIO');
    quietOnBrokenPipe(file.stream);
    expect(() => file.fail()).toThrow('write EIO');
  });
});
