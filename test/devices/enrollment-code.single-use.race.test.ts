import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sha256b64url } from '../../src/crypto/hash.js';
import { createEnrollmentCodes, normalizeCode } from '../../src/devices/enrollment-codes.js';
import { createAccount, openTestPostgres, type TestDb } from '../support/devices-fixtures.js';

/**
 * Threat: an enrollment code is a bearer secret for 15 minutes. Two racing enrollments must not
 * both get a device from one code (STYLE 7, Kratos' one-time-secret race test), an old code must
 * not work, and a database dump must not reveal live codes.
 */
describe('enrollment codes on PostgreSQL', () => {
  let handle: TestDb;
  let alice: string;
  let clock = Date.parse('2030-01-01T00:00:00Z');
  const now = () => clock;

  beforeAll(async () => {
    handle = await openTestPostgres('enr');
    alice = await createAccount(handle.db, 'alice');
  });
  afterAll(() => handle.close());

  it('issues human-typable codes of 80 bits in Crockford base32, expiring in 15 minutes', async () => {
    const codes = createEnrollmentCodes(handle.db, { now });
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const { code, expiresAt } = await codes.issue(alice, 'admin');
      expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/);
      expect(expiresAt.getTime()).toBe(clock + 15 * 60_000);
      seen.add(code);
    }
    expect(seen.size).toBe(20);
  });

  // Red-team (self-service round): 240 requests to /account left 240 live codes, each a way in for 15 minutes.
  it('keeps only the newest code /account issued an account, whoever else issued codes, even 40 issued at once', async () => {
    const codes = createEnrollmentCodes(handle.db, { now });
    const bob = await createAccount(handle.db, 'bob-self');
    const carol = await createAccount(handle.db, 'carol-self');
    const admin = await codes.issue(bob, 'admin');
    const carols = await codes.issue(carol, `self:${carol}`);
    const first = await codes.issue(bob, `self:${bob}`);
    const newest = await codes.issue(bob, `self:${bob}`);
    expect(await codes.peek(first.code)).toBeNull();
    expect(await codes.peek(newest.code)).toBe(bob);
    expect(await codes.peek(admin.code)).toBe(bob);
    expect(await codes.peek(carols.code)).toBe(carol);
    const burst = await Promise.all(Array.from({ length: 40 }, () => codes.issue(bob, `self:${bob}`)));
    const live = (await Promise.all(burst.map((b) => codes.peek(b.code)))).filter(Boolean);
    expect(live.length).toBeLessThanOrEqual(2);
    expect(await codes.peek(newest.code)).toBeNull();
  });

  it('lets exactly one of 20 concurrent consumers have a code', async () => {
    const codes = createEnrollmentCodes(handle.db, { now });
    const { code } = await codes.issue(alice, 'admin');
    const results = await Promise.all(Array.from({ length: 20 }, () => codes.consume(code)));
    expect(results.filter((r) => r === alice)).toHaveLength(1);
    expect(results.filter((r) => r === null)).toHaveLength(19);
    expect(await codes.consume(code)).toBeNull();
  });

  it('refuses an expired code, and a used, unknown or garbage one, all alike', async () => {
    const codes = createEnrollmentCodes(handle.db, { now });
    const { code } = await codes.issue(alice, 'admin');
    clock += 15 * 60_000 + 1;
    expect(await codes.consume(code)).toBeNull();
    expect(await codes.consume('0000-0000-0000-0000')).toBeNull();
    expect(await codes.consume('')).toBeNull();
    expect(await codes.consume('x'.repeat(10_000))).toBeNull();
    expect(await codes.consume(42 as unknown as string)).toBeNull();
  });

  it('accepts the code as a person types it: lower case, without dashes, O for 0, I or L for 1', async () => {
    const codes = createEnrollmentCodes(handle.db, { now });
    const { code } = await codes.issue(alice, 'admin');
    const typed = code.toLowerCase().replace(/-/g, ' ').replace(/0/g, 'o').replace(/1/g, 'l');
    expect(normalizeCode(typed)).toBe(code.replace(/-/g, ''));
    expect(await codes.consume(typed)).toBe(alice);
  });

  it('stores only a SHA-256 of the code: the plaintext appears nowhere in the table', async () => {
    const codes = createEnrollmentCodes(handle.db, { now });
    const { code } = await codes.issue(alice, 'admin@example');
    const bare = code.replace(/-/g, '');
    const rows = await handle.db.query<{ t: string; code_hash: string }>(
      'SELECT enrollment_codes::text AS t, code_hash FROM enrollment_codes');
    for (const row of rows) {
      expect(row.t).not.toContain(bare);
      expect(row.t).not.toContain(code);
    }
    expect(rows.map((r) => r.code_hash)).toContain(sha256b64url(bare));
  });
});
