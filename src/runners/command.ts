import { readFile } from 'node:fs/promises';
import type { CommandRunnerConfig } from '../graph/pipeline.js';
import { spawnTree } from './processes.js';
import type { AgentRequest, AgentResult, AgentRunner } from './types.js';

async function tail(file: string, bytes = 1500): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const t = text.trim();
  return t.length > bytes ? `…${t.slice(-bytes)}` : t;
}

/**
 * Runs a local command per attempt: argv without a shell or a string through /bin/sh, cwd = the pipeline
 * directory, the prompt on stdin and in CF_PROMPT_FILE, stdout and stderr kept beside the attempt's files.
 */
export class CommandRunner implements AgentRunner {
  constructor(
    private readonly config: CommandRunnerConfig,
    private readonly cwd: string,
  ) {}

  async run(req: AgentRequest): Promise<AgentResult> {
    const files = req.files;
    if (!files) throw new Error('the command runner needs attempt files on disk');
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
    Object.assign(env, this.config.env, req.env);
    const r = await spawnTree({
      command: this.config.command,
      cwd: this.cwd,
      env,
      stdin: { file: files.prompt },
      stdout: { file: files.stdout },
      stderr: { file: files.stderr },
      timeoutMs: this.config.timeoutMs,
      signal: req.signal,
    });
    switch (r.kind) {
      case 'exited':
        if (r.code === 0) return { ok: true };
        return { ok: false, failure: { kind: 'exit', code: r.code, detail: await tail(files.stderr) } };
      case 'signalled':
        return { ok: false, failure: { kind: 'signal', signal: r.signal, detail: await tail(files.stderr) } };
      case 'timeout':
        return { ok: false, failure: { kind: 'timeout', ms: this.config.timeoutMs } };
      case 'cancelled':
        return { ok: false, failure: { kind: 'cancelled' } };
      case 'spawn-error':
        return { ok: false, failure: { kind: 'spawn', message: r.message } };
    }
  }
}
