import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { scrubProcessOutput } from '../src/cli/scrubOutput.js';
import { FileSink } from '../src/store/fileSink.js';
import { scrubFile } from '../src/util/scrubFile.js';
import { isSecretName, resetSecrets, Scrubber, scrubberFrom } from '../src/util/secrets.js';
import { withTempDir } from './helpers/tempDir.js';

const KEY = 'sk-test-0123456789abcdef';

afterEach(() => {
  delete process.env.CF_TEST_API_KEY;
  resetSecrets();
});

describe('the secrets cf knows', () => {
  it('are the variables named like secrets and the ones a runner names, at least 8 characters long', () => {
    for (const n of ['MY_API_KEY', 'OPENAI_APIKEY', 'GITHUB_TOKEN', 'HF_TOKEN', 'CLIENT_SECRET', 'AWS_SECRET_ACCESS_KEY', 'MINIO_SECRET_KEY', 'DB_PASSWORD', 'SSH_PRIVATE_KEY', 'TOKEN']) {
      expect(isSecretName(n), n).toBe(true);
    }
    for (const n of ['HOME', 'PATH', 'SORT_KEY', 'AWS_ACCESS_KEY_ID', 'GOOGLE_APPLICATION_CREDENTIALS', 'TOKENIZER', 'SECRETARY']) expect(isSecretName(n), n).toBe(false);
    const s = scrubberFrom({ MY_API_KEY: KEY, CLAUDE_KEY: 'claude-0123456789', SHORT_TOKEN: 'abc123', HOME: '/home/someone-long' }, ['CLAUDE_KEY']);
    expect(s.scrub(`a ${KEY} b claude-0123456789 c abc123 /home/someone-long`)).toBe('a [secret $MY_API_KEY] b [secret $CLAUDE_KEY] c abc123 /home/someone-long');
  });

  it('are found raw, escaped inside JSON strings, and as bytes in text that is not UTF-8', () => {
    const quoted = 'pa"ss\\word-0123';
    const s = new Scrubber([{ name: 'DB_PASSWORD', value: quoted }]);
    expect(s.scrub(JSON.stringify({ message: `login with ${quoted}` }))).toBe('{"message":"login with [secret $DB_PASSWORD]"}');
    const bytes = Buffer.concat([Buffer.from([0xff, 0xe9]), Buffer.from(quoted), Buffer.from([0xc3])]);
    expect(s.scrubBytes(bytes)).toEqual(Buffer.concat([Buffer.from([0xff, 0xe9]), Buffer.from('[secret $DB_PASSWORD]'), Buffer.from([0xc3])]));
    expect(s.scrubBytes(Buffer.from('nothing here'))).toBeNull();
  });

  it('are found in a stream when a chunk boundary cuts one in two', async () => {
    const s = new Scrubber([{ name: 'MY_API_KEY', value: KEY }]);
    const text = `start ${KEY} middle ${KEY}${KEY} end`;
    for (let size = 1; size <= text.length; size++) {
      const chunks = Array.from({ length: Math.ceil(text.length / size) }, (_, i) => text.slice(i * size, (i + 1) * size));
      let out = '';
      for await (const c of s.scrubStream((async function* () { yield* chunks; })())) out += c.bytes.toString();
      expect(out, `chunks of ${size}`).toBe('start [secret $MY_API_KEY] middle [secret $MY_API_KEY][secret $MY_API_KEY] end');
    }
  });

  it('are scrubbed from files an agent wrote, small and large, and the file is left alone when it holds none', async () => {
    await withTempDir('secrets', async (dir) => {
      const s = new Scrubber([{ name: 'MY_API_KEY', value: KEY }]);
      const small = path.join(dir, 'stdout.log');
      writeFileSync(small, `key: ${KEY}\n`);
      expect(await scrubFile(small, s)).toBe(true);
      expect(readFileSync(small, 'utf8')).toBe('key: [secret $MY_API_KEY]\n');
      expect(await scrubFile(small, s)).toBe(false);
      // Streamed in chunks of 1000 bytes, the key across the boundary of the first two.
      const large = path.join(dir, 'output.json');
      const filler = 'x'.repeat(990);
      writeFileSync(large, `${filler}${KEY}${filler}`);
      expect(await scrubFile(large, s, { inMemory: 100, chunk: 1000 })).toBe(true);
      const text = readFileSync(large, 'utf8');
      expect(text).not.toContain(KEY);
      expect(text.length).toBe(2 * filler.length + '[secret $MY_API_KEY]'.length);
    });
  });
});

describe('where cf writes, secrets are scrubbed as a last defence', () => {
  it('records.log lines', async () => {
    process.env.CF_TEST_API_KEY = KEY;
    resetSecrets();
    await withTempDir('secrets', async (dir) => {
      const sink = new FileSink(path.join(dir, 'records.log'));
      sink.append(`${JSON.stringify({ t: 'fail', errors: [{ message: `the agent printed ${KEY}` }] })}\n`);
      sink.close();
      const line = readFileSync(path.join(dir, 'records.log'), 'utf8');
      expect(line).toBe('{"t":"fail","errors":[{"message":"the agent printed [secret $CF_TEST_API_KEY]"}]}\n');
    });
  });

  it('everything written to stdout and stderr once the CLI installs the scrubber', () => {
    process.env.CF_TEST_API_KEY = KEY;
    resetSecrets();
    const written: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        written.push(chunk.toString());
        cb();
      },
    });
    scrubProcessOutput([stream]);
    scrubProcessOutput([stream]);
    stream.write(`a line with ${KEY}\n`);
    stream.write(Buffer.from(`bytes with ${KEY}\n`));
    expect(written).toEqual(['a line with [secret $CF_TEST_API_KEY]\n', 'bytes with [secret $CF_TEST_API_KEY]\n']);
  });
});
