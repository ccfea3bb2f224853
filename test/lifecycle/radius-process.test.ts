import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TEST_REDIS_URL, uniquePrefix } from '../support/env.js';
import { freePort, freshSchemaUrl } from '../support/idp.js';
import { RADIUS_MAIN } from '../support/entry.js';

/**
 * `npm run radius` as an operator runs it (a real child process on the IdP's PostgreSQL and
 * Redis): a missing setting stops the start with exit 2 and names it; SIGTERM stops it cleanly
 * with exit 0, and a second signal meanwhile does not start a second shutdown.
 */
describe('the RADIUS process starts and stops like the IdP', () => {
  let schema: Awaited<ReturnType<typeof freshSchemaUrl>>;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'radius-process-'));
  mkdirSync(path.join(dir, 'config')); // an empty configuration folder: no registrations
  const children: ChildProcess[] = [];
  beforeAll(async () => { schema = await freshSchemaUrl(); });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await schema?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  function radius(env: NodeJS.ProcessEnv) {
    const child = spawn(process.execPath, [RADIUS_MAIN], {
      env: {
        ...process.env, NODE_OPTIONS: '', DATA_DIR: path.join(dir, 'data'), CONFIG_DIR: path.join(dir, 'config'),
        REDIS_PREFIX: uniquePrefix('radius-process'), LOG_LEVEL: 'info', ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let output = '';
    child.stdout!.on('data', (b: Buffer) => { output += b; });
    child.stderr!.on('data', (b: Buffer) => { output += b; });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return { child, exited, output: () => output };
  }

  it('exits 2 naming RADIUS_PORT when it is not set', async () => {
    const r = radius({ DATABASE_URL: schema.url, REDIS_URL: TEST_REDIS_URL, RADIUS_PORT: '' });
    expect(await r.exited).toBe(2);
    expect(r.output()).toMatch(/Configuration error: .*RADIUS_PORT/);
  }, 60_000);

  it('stops on SIGTERM with exit 0, once, however many signals arrive', async () => {
    const r = radius({ DATABASE_URL: schema.url, REDIS_URL: TEST_REDIS_URL, RADIUS_PORT: String(await freePort()), RADIUS_HOST: '127.0.0.1' });
    for (let i = 0; i < 600 && !r.output().includes('RADIUS front door is up'); i++) {
      if (r.child.exitCode !== null) throw new Error(`the RADIUS process exited: ${r.output()}`);
      await new Promise((res) => setTimeout(res, 100));
    }
    expect(r.output()).toContain('RADIUS front door is up: udp 127.0.0.1:');
    r.child.kill('SIGTERM');
    r.child.kill('SIGTERM');
    expect(await r.exited).toBe(0);
    expect(r.output().match(/"msg":"shutting down"/g)).toHaveLength(1);
    expect(r.output()).toMatch(/"msg":"stopped"/);
    expect(r.output()).not.toMatch(/Shutdown failed|took too long/);
  }, 90_000);
});
