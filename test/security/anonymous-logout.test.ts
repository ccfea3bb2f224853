import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ANONYMOUS_SESSION_TTL } from '../../src/oidc/adapters.js';
import { startTestIdp, type TestIdp } from '../support/idp.js';
import { FormBrowser } from '../support/web-browser.js';

/**
 * Audit item 9: every anonymous `GET /session/end` made oidc-provider save a new Session (its
 * logout form's state) as a 14-day database row: anyone could grow the database at will. Now such
 * a session lives in Redis for ANONYMOUS_SESSION_TTL and the database gets nothing.
 */
describe.each([
  ['PGlite and the in-process stand-in', 'pglite', 'standin'],
  ['PostgreSQL and Redis', 'postgres', 'real'],
] as const)('anonymous sign-out requests (%s)', (_label, storage, redis) => {
  let t: TestIdp;
  beforeAll(async () => { t = await startTestIdp({ storage, redis }); });
  afterAll(() => t.close());
  const rows = async () => Number((await t.idp.db.query<{ n: string | number }>('SELECT count(*) AS n FROM oidc_payloads'))[0]!.n);

  it('add no database row, only short-lived Redis keys, and the sign-out form still works', async () => {
    const before = await rows();
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${t.url}/session/end`);
      expect(res.status).toBe(200);
      await res.text();
    }
    expect(await rows()).toBe(before);

    const prefix = String(t.idp.redis.options.keyPrefix ?? '');
    const sessionKeys = (await t.idp.redis.keys(`${prefix}oidc:Session:*`)).filter((k) => !k.includes(':uid:'));
    expect(sessionKeys.length).toBe(20);
    for (const key of sessionKeys) {
      const ttl = await t.idp.redis.ttl(key.slice(prefix.length));
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(ANONYMOUS_SESSION_TTL);
    }

    const browser = new FormBrowser(t.url);
    const page = await browser.go('/session/end');
    const done = await browser.submit(page.body, /\/session\/end\/confirm$/, { logout: 'yes' });
    expect(done.res.status).toBe(200);
    expect(done.body).toContain('Signed out');
    expect(await rows()).toBe(before);
  });
});
