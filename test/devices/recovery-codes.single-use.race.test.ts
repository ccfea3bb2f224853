import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sha256b64url } from '../../src/crypto/hash.js';
import { normalizeCode } from '../../src/devices/enrollment-codes.js';
import { createRecoveryCodes, RECOVERY_CODE_COUNT } from '../../src/devices/recovery-codes.js';
import type { Db } from '../../src/storage/db.js';
import { createAccount, TEST_ENGINES, type TestDb } from '../support/devices-fixtures.js';

/** A device of the account that its phone confirmed (its first signed call set last_used_at), revoked or not. */
const confirmedDevice = (db: Db, accountId: string, status = 'active') => db.query(
  `INSERT INTO devices (id, account_id, name, public_jwk, totp_secret_enc, status, last_used_at) VALUES ($1, $2, 'Phone', '{}', 'x', $3, now())`,
  [`dev_${accountId}_${status}`, accountId, status]);

/**
 * Threat: a recovery code is what stands between a lost phone and the password alone. Each must
 * work once even when raced (STYLE 7), only for its own account, not after new codes replace it,
 * and a database dump must not reveal one.
 */
describe.each(TEST_ENGINES)('recovery codes on %s', (_engine, open) => {
  let handle: TestDb;
  let alice: string;
  let bob: string;

  beforeAll(async () => {
    handle = await open();
    alice = await createAccount(handle.db, 'alice');
    bob = await createAccount(handle.db, 'bob');
    await confirmedDevice(handle.db, alice, 'revoked'); // the phone alice lost
    await confirmedDevice(handle.db, bob);
  });
  afterAll(() => handle.close());

  it('issues ten distinct codes of 80 bits in Crockford base32, stored only as SHA-256', async () => {
    const store = createRecoveryCodes(handle.db);
    const codes = await store.issue(alice);
    expect(codes).toHaveLength(RECOVERY_CODE_COUNT);
    expect(new Set(codes).size).toBe(RECOVERY_CODE_COUNT);
    for (const code of codes) expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/);
    const dump = JSON.stringify(await handle.db.query('SELECT * FROM recovery_codes'));
    for (const code of codes) {
      expect(dump).not.toContain(code);
      expect(dump).not.toContain(normalizeCode(code)!);
      expect(dump).toContain(sha256b64url(normalizeCode(code)!));
    }
    expect(await store.remaining(alice)).toBe(RECOVERY_CODE_COUNT);
  });

  it('takes no code before a device of the account was confirmed by its phone (an unconfirmed one does not count)', async () => {
    const carol = await createAccount(handle.db, 'carol');
    const store = createRecoveryCodes(handle.db);
    const [code] = await store.issue(carol);
    expect(await store.consume(carol, code!)).toBe(false);
    await handle.db.query(`INSERT INTO devices (id, account_id, name, public_jwk, totp_secret_enc) VALUES ('dev_carol_pending', $1, 'Planted', '{}', 'x')`, [carol]);
    expect(await store.consume(carol, code!)).toBe(false);
    expect(await store.remaining(carol)).toBe(RECOVERY_CODE_COUNT);
    await confirmedDevice(handle.db, carol);
    expect(await store.consume(carol, code!)).toBe(true);
  });

  it('lets exactly one of 20 concurrent consumers use a code', async () => {
    const store = createRecoveryCodes(handle.db);
    const [code] = await store.issue(alice);
    const results = await Promise.all(Array.from({ length: 20 }, () => store.consume(alice, code!)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await store.consume(alice, code!)).toBe(false);
    expect(await store.remaining(alice)).toBe(RECOVERY_CODE_COUNT - 1);
  });

  it("accepts a code typed loosely, but never another account's code, garbage, or a replaced code", async () => {
    const store = createRecoveryCodes(handle.db);
    const codes = await store.issue(alice);
    expect(await store.consume(bob, codes[0]!)).toBe(false);
    expect(await store.consume(alice, codes[1]!.toLowerCase().replace(/-/g, ' '))).toBe(true);
    for (const junk of ['', 'x'.repeat(5000), '\u0000'.repeat(16), '\ud800'.repeat(16), 'AAAA-BBBB-CCCC-DDDD']) {
      expect(await store.consume(alice, junk)).toBe(false);
    }
    const fresh = await store.issue(alice);
    expect(await store.consume(alice, codes[2]!)).toBe(false);
    expect(await store.consume(alice, fresh[0]!)).toBe(true);
  });
});
