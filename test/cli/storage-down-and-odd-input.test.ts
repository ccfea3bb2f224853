import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createAccountStore } from '../../src/accounts/store.js';
import { openPostgres } from '../../src/storage/postgres.js';
import { runAdminCli } from '../support/admin-cli.js';
import { TEST_REDIS_URL } from '../support/env.js';
import { freshSchemaUrl } from '../support/idp.js';

/**
 * The admin CLI when PostgreSQL or Redis cannot be used, and with odd input (red-team, /account and
 * CLI round): one line on stderr, never a stack trace nor a secret, a non-zero exit, and nothing
 * changed. Before: with Redis down, `user set-password` stored a new hash, ended the SQL sessions,
 * then died with a stack trace, never printing the generated password and auditing nothing
 * (`user disable` likewise); a server that accepted and never answered held the CLI for ever; a
 * display name with a newline, ESC or a bidi override was taken, and `user list` printed a forged row.
 */
describe('admin CLI: storage that cannot be used, and odd input', () => {
  let schema: Awaited<ReturnType<typeof freshSchemaUrl>>;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'cli-down-'));
  let hole: Server;
  let holePort = 0;
  const sockets: Socket[] = [];
  const env = () => ({ DATABASE_URL: schema.url, REDIS_URL: TEST_REDIS_URL, DATA_DIR: dataDir, ISSUER: 'http://127.0.0.1:3999' });
  const STACK = /\n\s+at .+[:(]/;
  const DOWN_DB = 'postgres://postgres:s3cret-db-pw@127.0.0.1:5999/test';
  const DOWN_REDIS = 'redis://:s3cret-redis-pw@127.0.0.1:6999/0';
  const account = async (username: string) => {
    const db = openPostgres(schema.url);
    try { return await createAccountStore(db).findByUsername(username); } finally { await db.close(); }
  };
  const audited = async (type: string) => {
    const db = openPostgres(schema.url);
    try { return Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM audit_events WHERE type = $1', [type]))[0]!.n); } finally { await db.close(); }
  };
  /** Refused as unusable storage: exit 69, one line naming what, no stack, no secret. */
  const unusable = (r: { status: number | null; stdout: string; stderr: string }, what: RegExp) => {
    expect(r.status).toBe(69);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(what);
    expect(r.stderr).not.toMatch(STACK);
    expect(r.stderr + r.stdout).not.toMatch(/s3cret/);
    expect(r.stdout).not.toMatch(/password: /);
  };

  beforeAll(async () => {
    schema = await freshSchemaUrl();
    hole = createServer((s) => { sockets.push(s); s.on('error', () => {}); });
    await new Promise<void>((r) => hole.listen(0, '127.0.0.1', () => r()));
    holePort = (hole.address() as { port: number }).port;
    expect((await runAdminCli(['user', 'create', 'alice', '--password-stdin'], { env: env(), input: 'quiet orchard 42 ferry\n' })).status).toBe(0);
  }, 60_000);
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => hole.close(r));
    await schema.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('PostgreSQL refusing connections, or a DATABASE_URL that is no URL: one line, exit 69', async () => {
    unusable(await runAdminCli(['user', 'list'], { env: { ...env(), DATABASE_URL: DOWN_DB } }), /^error: PostgreSQL \(DATABASE_URL\) cannot be used: /);
    unusable(await runAdminCli(['user', 'list'], { env: { ...env(), DATABASE_URL: 'postgres://postgres:s3cret-db-pw@[::1/test' } }), /^error: PostgreSQL \(DATABASE_URL\) cannot be used: /);
  }, 60_000);

  it.each([['set-password'], ['disable'], ['sign-out']])('Redis refusing connections: user %s changes nothing, says so in one line, exit 69', async (verb) => {
    const before = (await account('alice'))!;
    const rows = await audited(`admin.user.${verb}`);
    unusable(await runAdminCli(['user', verb, 'alice'], { env: { ...env(), REDIS_URL: DOWN_REDIS } }), /^error: Redis \(REDIS_URL\) cannot be used: /);
    const after = (await account('alice'))!;
    expect({ hash: after.passwordHash === before.passwordHash, disabled: after.disabled }).toEqual({ hash: true, disabled: false });
    expect(await audited(`admin.user.${verb}`)).toBe(rows);
    // With Redis there, the same command works.
    expect((await runAdminCli(['user', verb, 'alice'], { env: env() })).status).toBe(0);
    if (verb === 'disable') expect((await runAdminCli(['user', 'enable', 'alice'], { env: env() })).status).toBe(0);
  }, 60_000);

  // Red-team (end of access round): unlink ends the user's sessions too, yet it removed the link first and
  // then failed on Redis: exit 69 ("nothing changed"), the link gone, the sessions alive, and a second run
  // said "no such link", so nothing could end them any more.
  it('Redis refusing connections: federation unlink keeps the link, exit 69; with Redis there it unlinks', async () => {
    const link = ['--issuer', 'https://broker.example/realms/x', '--subject', 'sub-unlink-1'];
    expect((await runAdminCli(['federation', 'link', 'alice', ...link], { env: env() })).status).toBe(0);
    const rows = await audited('federation.unlink');
    unusable(await runAdminCli(['federation', 'unlink', ...link], { env: { ...env(), REDIS_URL: DOWN_REDIS } }), /^error: Redis \(REDIS_URL\) cannot be used: /);
    expect((await runAdminCli(['federation', 'list', 'alice'], { env: env() })).stdout).toContain('sub-unlink-1');
    expect(await audited('federation.unlink')).toBe(rows);
    const again = await runAdminCli(['federation', 'unlink', ...link], { env: env() });
    expect({ status: again.status, stderr: again.stderr }).toEqual({ status: 0, stderr: '' });
    expect((await runAdminCli(['federation', 'list', 'alice'], { env: env() })).stdout).not.toContain('sub-unlink-1');
  }, 60_000);

  it('a PostgreSQL or a Redis that accepts and never answers: the CLI gives up with one line, exit 69', async () => {
    const pgStarted = Date.now();
    unusable(await runAdminCli(['user', 'list'], { env: { ...env(), DATABASE_URL: `postgres://postgres@127.0.0.1:${holePort}/test` }, timeoutMs: 45_000 }), /^error: PostgreSQL/);
    expect(Date.now() - pgStarted).toBeLessThan(40_000);
    const redisStarted = Date.now();
    unusable(await runAdminCli(['user', 'sign-out', 'alice'], { env: { ...env(), REDIS_URL: `redis://127.0.0.1:${holePort}/0` }, timeoutMs: 45_000 }), /^error: Redis/);
    expect(Date.now() - redisStarted).toBeLessThan(40_000);
    // A Redis Cluster whose nodes all refuse queues commands until it is ready, past any per-node
    // timeout (review): the CLI's own timer ends the wait.
    const clusterStarted = Date.now();
    unusable(await runAdminCli(['user', 'sign-out', 'alice'], { env: { ...env(), REDIS_URL: 'redis-cluster://127.0.0.1:6997,127.0.0.1:6998' }, timeoutMs: 45_000 }), /^error: Redis/);
    expect(Date.now() - clusterStarted).toBeLessThan(40_000);
  }, 140_000);

  it('a display name or e-mail with a control, bidi or invisible character, or too long, is refused; `user list` keeps one line per user', async () => {
    for (const [option, value] of [
      ['--name', 'Bob\u202E\nmallory\tactive\t00000000-0000-0000-0000-000000000000\t\x1b[2KAdmin'],
      ['--name', 'Bob\u200B'], ['--name', 'x'.repeat(201)], ['--name', ' Bob'], ['--email', 'bob@example.com\n'], ['--email', `${'b'.repeat(250)}@x.io`],
    ] as const) {
      const r = await runAdminCli(['user', 'create', 'bob', option, value, '--password-stdin'], { env: env(), input: 'quiet orchard 42 ferry\n' });
      expect({ option, status: r.status }).toEqual({ option, status: 64 });
      expect(r.stderr.split('\n')[0]).toMatch(new RegExp(`^error: ${option}`));
      expect(await account('bob')).toBeNull();
    }
    const ok = await runAdminCli(['user', 'create', 'bob', '--name', 'Bøb Ünïcode 📱', '--email', 'bob@example.com', '--password-stdin'], { env: env(), input: 'quiet orchard 42 ferry\n' });
    expect(ok.status).toBe(0);
    expect((await account('bob'))?.displayName).toBe('Bøb Ünïcode 📱');
    expect((await runAdminCli(['user', 'list'], { env: env() })).stdout.trim().split('\n')).toHaveLength(2);
  }, 60_000);

  it('an unknown command names the words it did not understand, first, exit 64', async () => {
    const r = await runAdminCli(['user', 'frobnicate', 'alice'], { env: env() });
    expect(r.status).toBe(64);
    expect(r.stderr.split('\n')[0]).toBe('error: unknown command "user frobnicate"');
    const other = await runAdminCli(['frobnicate'], { env: env() });
    expect(other.stderr.split('\n')[0]).toBe('error: unknown command "frobnicate"');
  }, 60_000);
});
