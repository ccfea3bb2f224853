import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import * as oidc from 'openid-client';
import pg from 'pg';
import { createLogger } from '../../src/log.js';
import { PushWorld, RP_CALLBACK } from '../support/push-world.js';
import { PrivateRedis } from '../support/private-servers.js';

/**
 * Red-team (faults round, 2026-12-05): storage that answers but refuses. A full Redis under
 * `noeviction` (OOM) and a PostgreSQL that became read-only (a failover onto a standby, a
 * read-only window) made every sign-in a 500 while /readyz, which only pinged, stayed green; and
 * a Redis that evicts keys under memory pressure (the managed services' default policy) let a
 * flood of sign-in pages evict a lockout, with no word from the IdP. Now: 503 with Retry-After,
 * /readyz names the store, and the IdP warns at start when Redis may evict.
 */
const authUrl = async (w: PushWorld) => oidc.buildAuthorizationUrl(w.rp, {
  redirect_uri: RP_CALLBACK, scope: 'openid', state: 's', code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256',
}).href;
const readyz = async (w: PushWorld) => { const r = await fetch(`${w.t.url}/readyz`); return { status: r.status, body: (await r.json()) as { failed?: string[] } }; };

describe('a full Redis (noeviction, OOM)', () => {
  let redis: PrivateRedis;
  let w: PushWorld;
  beforeAll(async () => {
    redis = await PrivateRedis.start({ args: ['--maxmemory-policy', 'noeviction'] });
    w = await PushWorld.start({ idp: { storage: 'pglite', env: { REDIS_URL: redis.url } } });
  }, 120_000);
  afterAll(async () => { await w?.close(); await redis?.stop(); });

  it('answers 503 temporarily_unavailable with Retry-After, /readyz names redis; both recover', async () => {
    // A limit far below what it holds: every write is refused (OOM), whatever else Redis frees meanwhile.
    redis.cli('config', 'set', 'maxmemory', '1');
    try {
      const res = await fetch(await authUrl(w), { redirect: 'manual', headers: { accept: 'application/json' } });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(await res.json()).toMatchObject({ error: 'temporarily_unavailable' });
      expect(await readyz(w)).toMatchObject({ status: 503, body: { failed: ['redis'] } });
    } finally {
      redis.cli('config', 'set', 'maxmemory', '0');
    }
    expect((await readyz(w)).status).toBe(200);
    expect((await fetch(await authUrl(w), { redirect: 'manual' })).status).toBe(303);
  }, 60_000);
});

describe('a PostgreSQL that became read-only', () => {
  const name = `faults_ro_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
  let w: PushWorld;
  const terminate = () => admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
  beforeAll(async () => {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    w = await PushWorld.start({ idp: { storage: 'pglite', env: { DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${name}` } } });
  }, 120_000);
  afterAll(async () => {
    await w?.close();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  });

  it('a sign-in answers 503, /readyz names the database; both recover when it takes writes again', async () => {
    await admin.query(`ALTER DATABASE ${name} SET default_transaction_read_only = on`);
    await terminate(); // the pool's next connections are read-only, as after a failover onto a standby
    try {
      for (let i = 0; i < 3; i++) {
        const s = await w.startSignIn();
        expect(s.next.res.status).toBe(503);
      }
      expect(await readyz(w)).toMatchObject({ status: 503, body: { failed: ['database'] } });
    } finally {
      await admin.query(`ALTER DATABASE ${name} RESET default_transaction_read_only`);
      await terminate();
    }
    // The pool's terminated connections fail once each (57P01, a 503) before new ones are made: the
    // load balancer's next probes see it ready.
    const deadline = Date.now() + 15_000;
    let status = (await readyz(w)).status;
    while (status !== 200 && Date.now() < deadline) { await new Promise((r) => setTimeout(r, 200)); status = (await readyz(w)).status; }
    expect(status).toBe(200);
    expect((await w.startSignIn()).next.res.status).toBeLessThan(400);
  }, 120_000);
});

describe('a Redis that may evict keys', () => {
  it('the IdP warns at start that lockouts could be evicted, naming the policy', async () => {
    const redis = await PrivateRedis.start({ args: ['--maxmemory-policy', 'volatile-lru'] });
    const out = new PassThrough();
    const lines: string[] = [];
    out.on('data', (b: Buffer) => lines.push(...b.toString('utf8').split('\n').filter(Boolean)));
    const w = await PushWorld.start({ idp: { storage: 'pglite', env: { REDIS_URL: redis.url }, idp: { logger: createLogger('warn', out) } } });
    try {
      const deadline = Date.now() + 5000;
      const warned = () => lines.map((l) => JSON.parse(l) as { msg?: string; policy?: string }).find((l) => /maxmemory-policy/.test(l.msg ?? ''));
      while (!warned() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(warned()).toMatchObject({ policy: 'volatile-lru', msg: expect.stringContaining('noeviction') });
    } finally {
      await w.close();
      await redis.stop();
    }
  }, 120_000);
});
