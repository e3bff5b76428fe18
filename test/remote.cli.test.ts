import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Project, TWO_PHASES } from './helpers/project.js';
import { S3Server } from './helpers/s3.js';

/*
 * The shared cache through the real CLI (the scenarios are in remote.test.ts, in memory): pipeline.yaml's
 * cache:, CF_REMOTE_CACHE, --remote-cache, --no-remote-cache, the lines a person reads, cf gc --remote.
 * Credentials come from the environment, as the AWS SDK's chain finds them.
 */

let server: S3Server;
const projects: Project[] = [];
beforeAll(async () => {
  server = await S3Server.start();
});
afterAll(async () => {
  await Promise.all(projects.map((p) => p.remove()));
  await server.remove();
});

const AWS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_EC2_METADATA_DISABLED: 'true' };

async function project(pipeline: string): Promise<Project> {
  const p = await Project.create({ seeds: 20, pipeline });
  projects.push(p);
  return p;
}

describe('cf build with a shared cache', () => {
  it('A publishes; B (CF_REMOTE_CACHE) runs no agent and says where its batches came from; --no-remote-cache; a remote that is down; cf gc --remote', async () => {
    const a = await project(`${TWO_PHASES()}cache:\n  remote: s3://course-cache/cli\n  endpoint: ${server.endpoint}\n`);
    const first = await a.cf(['build'], AWS);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('published 2 batches to the remote cache s3://course-cache/cli/');
    expect(first.stdout).toContain('cf: done: 2 ran, 0 fresh');

    // Another checkout at another path, its pipeline.yaml without cache: the environment names it.
    const b = await project(TWO_PHASES());
    const env = { ...AWS, CF_REMOTE_CACHE: 's3://course-cache/cli', AWS_ENDPOINT_URL_S3: server.endpoint };
    const second = await b.cf(['build', '--json'], env);
    expect(second.code, second.stderr).toBe(0);
    const summary = JSON.parse(second.stdout.trim().split('\n').pop()!) as { ran: string[]; remote: string[] };
    expect(summary.ran).toEqual([]);
    expect(summary.remote.sort()).toEqual(['legos#1', 'pairs#1']);
    expect(await b.takeRuns()).toEqual([]);
    expect((await b.cf(['explain', 'pairs#1'])).stdout).toMatch(new RegExp(`fresh: from the remote cache, built \\S+ by ${hostname()}`));
    expect((await b.cf(['status'])).stdout).toContain('fresh from the remote cache (built on other machines): pairs 1/1, legos 1/1');

    // --no-remote-cache: this run builds without it (CF_REMOTE_CACHE names one that is down: not a word of it).
    const down = { ...AWS, CF_REMOTE_CACHE: 's3://course-cache/cli', AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9' };
    await b.editSeed('S0001', 'edited');
    const alone = await b.cf(['build', '--no-remote-cache'], down);
    expect(alone.code).toBe(0);
    expect(alone.stdout).toContain('cf: done: 2 ran');
    expect(alone.stdout).not.toContain('remote');
    // Down: one warning with the reason, and the build goes on locally.
    await b.editSeed('S0001', 'edited again');
    const warned = await b.cf(['build', '-q'], down);
    expect(warned.code).toBe(0);
    expect(warned.stderr.match(/warning: the remote cache s3:\/\/course-cache\/cli\/ does not answer: connect ECONNREFUSED [^;]*; building on locally/g)).toHaveLength(1);
    expect(warned.stdout).toContain('cf: done: 2 ran');

    const gc = await a.cf(['gc', '--remote', '--older-than', '30d', '-n'], AWS);
    expect(gc.code, gc.stderr).toBe(0);
    expect(gc.stdout).toBe('cf: would delete 0 batch records, 0 item records, 0 stored outputs from s3://course-cache/cli/; kept 4 newer objects; nothing was deleted');
  });

  it('a remote cache named wrong, or gc without an age: exit 2 before anything is read', async () => {
    const p = await project(TWO_PHASES());
    const bad = await p.cf(['build', '--remote-cache', 'gs://course-cache/x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('cf: error: --remote-cache: a remote cache is s3://BUCKET/PREFIX, file:///DIR or a directory path, not gs://');
    const gc = await p.cf(['gc', '--remote']);
    expect(gc.code).toBe(2);
    expect(gc.stderr).toContain('cf gc --remote needs --older-than AGE');
  });
});
