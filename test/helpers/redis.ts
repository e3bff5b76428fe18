import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { parseQueueUrl, type QueueLocation } from '../../src/config/queueConfig.js';

/*
 * A redis-server of a test's own (Debian's, /usr/bin/redis-server; .ci/run installs it), on a free loopback
 * port, with nothing saved to disk. Ready when it says so on stdout (no sleep); killed by stop().
 */

/** A free loopback port: bound by the system, then let go (redis-server takes no --port 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export class RedisServer {
  private constructor(
    readonly port: number,
    private readonly child: ChildProcess,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get location(): QueueLocation {
    const l = parseQueueUrl(this.url);
    if (!l.ok) throw new Error(l.error);
    return l.value;
  }

  static async start(port?: number): Promise<RedisServer> {
    for (let tries = 0; ; tries++) {
      const p = port ?? (await freePort());
      const child = spawn('redis-server', ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'notice'], { stdio: ['ignore', 'pipe', 'pipe'] });
      const ready = await new Promise<boolean>((resolve, reject) => {
        let out = '';
        child.once('error', reject);
        child.stdout!.on('data', (d: Buffer) => {
          out += String(d);
          if (out.includes('Ready to accept connections')) resolve(true);
        });
        // Another process took the port between freePort() and now: try another one.
        child.once('exit', () => resolve(false));
      });
      if (ready) {
        child.stdout!.resume();
        return new RedisServer(p, child);
      }
      if (port !== undefined || tries > 3) throw new Error(`redis-server did not start on port ${p}`);
    }
  }

  /** Kills it (SIGKILL: as a server lost) and waits for it to be gone. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGKILL');
    await gone;
  }
}
