import { afterAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, type JSONWebKeySet } from 'jose';
import * as oidc from 'openid-client';
import { hashPassword } from '../../src/accounts/passwords.js';
import { createSecretBox } from '../../src/crypto/secretbox.js';
import { generateVapidKeys } from '../../src/push/vapid.js';
import { openDatabase } from '../../src/storage/open.js';
import { runAdminCli } from '../support/admin-cli.js';
import { freePort, freshSchemaUrl, startTestIdp, testRp, TEST_RP_SECRET, type TestIdp, type TestIdpOptions } from '../support/idp.js';
import { uniquePrefix } from '../support/env.js';
import { seedPglite } from '../support/pglite-template.js';
import { FormBrowser } from '../support/web-browser.js';

/**
 * Audit item 6: the OIDC signing keys and the VAPID key were stored in clear in `keystore`, so a
 * copy of the database could sign ID tokens (and push) as the IdP. They are now sealed under the
 * key-encryption key, which never sits in the database; rows of an older version are sealed at
 * the next start, and `secrets rewrap` re-seals them after a KEK rotation.
 */
const kek = (id: string) => ({ id, b64: randomBytes(32).toString('base64') });
const k1 = kek('k1');
const k2 = kek('k2');
const env = (...keys: { id: string; b64: string }[]) => keys.map((k) => `${k.id}:${k.b64}`).join(',');
const box = (...keys: { id: string; b64: string }[]) => createSecretBox(keys.map((k) => ({ id: k.id, key: Buffer.from(k.b64, 'base64') })), keys[0]!.id);

async function keystore(t: TestIdp) {
  // The keys; the issuer record (src/keys/issuer-record.ts) is sealed too but holds no secret, and
  // the demo user's password (sealed too) has its own test (test/lifecycle/demo-shared-database.test.ts).
  return t.idp.db.query<{ name: string; value: unknown }>("SELECT name, value FROM keystore WHERE name NOT IN ('issuer', 'demo-password') ORDER BY name");
}

/** A password sign-in through openid-client; returns the ID token, checked against the IdP's /jwks. */
async function signInAndVerify(t: TestIdp): Promise<{ kid: string }> {
  const config = await oidc.discovery(new URL(t.url), 'test-rp', TEST_RP_SECRET, undefined, { execute: [oidc.allowInsecureRequests] });
  const verifier = oidc.randomPKCECodeVerifier();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: 'http://127.0.0.1:1/cb', scope: 'openid', state: 'st', prompt: 'consent',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  });
  const browser = new FormBrowser(t.url);
  const login = await browser.go(url.href);
  const consent = await browser.submit(login.body, /\/login$/, { username: 'kim', password: 'granite meadow compass' });
  const back = await browser.submit(consent.body, /\/confirm$/, {});
  const tokens = await oidc.authorizationCodeGrant(config, new URL(back.url), { pkceCodeVerifier: verifier, expectedState: 'st' });
  const jwks = await (await fetch(`${t.url}/jwks`)).json() as JSONWebKeySet;
  const { protectedHeader } = await jwtVerify(tokens.id_token!, createLocalJWKSet(jwks), { issuer: t.url, audience: 'test-rp' });
  return { kid: protectedHeader.kid! };
}

describe.each(['pglite', 'postgres'] as const)('signing and VAPID keys at rest (%s)', (storage) => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'keys-'));
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups) await c();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('seals rows an older version left in clear, keeps signing with them, and a dump holds no private key', async () => {
    const schema = storage === 'postgres' ? await freshSchemaUrl() : null;
    if (schema) cleanups.push(schema.drop);
    // The database as an older version left it: the keys in clear. (The embedded one from the
    // initialised copy: its initdb is not what this test is about, and costs seconds of CPU.)
    if (!schema) await seedPglite(path.join(dataDir, 'pg'));
    const db = await openDatabase({ databaseUrl: schema?.url ?? null, dataDir });
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    const legacyJwk = { ...(await exportJWK(privateKey)), kid: 'legacy-rsa', alg: 'RS256', use: 'sig' };
    const legacyVapid = generateVapidKeys();
    await db.query('INSERT INTO keystore (name, value) VALUES ($1, $2), ($3, $4)',
      ['oidc-signing-jwks', JSON.stringify({ keys: [legacyJwk] }), 'vapid', JSON.stringify(legacyVapid)]);
    await db.close();

    const opts: TestIdpOptions = {
      storage, dataDir, port: await freePort(), redisPrefix: uniquePrefix('keys'), clients: [testRp()],
      env: { KEK: env(k1) }, ...(schema ? { schema: schema.schema } : {}),
    };
    let t = await startTestIdp(opts);
    try {
      await t.idp.accounts.create({ username: 'kim', passwordHash: await hashPassword('granite meadow compass') });
      const rows = await keystore(t);
      const dump = JSON.stringify(rows);
      expect(rows.map((r) => r.name)).toEqual(['oidc-signing-jwks', 'vapid']);
      for (const r of rows) expect(r.value).toEqual({ sealed: expect.stringMatching(/^v1\.k1\./) });
      for (const secret of [legacyJwk.d!, legacyJwk.p!, legacyJwk.q!, legacyVapid.privateKey, '"d"']) expect(dump).not.toContain(secret);
      expect((await signInAndVerify(t)).kid).toBe('legacy-rsa');
      // Opened with the KEK, the rows are the same keys: the VAPID key (and every subscription) is kept.
      expect(JSON.parse(box(k1).open((rows[1]!.value as { sealed: string }).sealed, 'vapid'))).toEqual(legacyVapid);
    } finally { await t.stop(); }

    // After a restart: same keys, still sealed.
    t = await startTestIdp(opts);
    try {
      expect((await signInAndVerify(t)).kid).toBe('legacy-rsa');
      expect(JSON.stringify(await keystore(t))).not.toContain(legacyJwk.d!);
    } finally { await t.close(); }
  });

  it('generates sealed keys at first start: no "d" of any key in the database', async () => {
    const t = await startTestIdp({ storage, clients: [testRp()], env: { KEK: env(k1) } });
    try {
      await t.idp.accounts.create({ username: 'kim', passwordHash: await hashPassword('granite meadow compass') });
      const rows = await keystore(t);
      expect(rows).toHaveLength(2);
      for (const r of rows) expect(r.value).toEqual({ sealed: expect.stringMatching(/^v1\.k1\./) });
      const opened = JSON.parse(box(k1).open((rows[0]!.value as { sealed: string }).sealed, 'oidc-signing-jwks')) as { keys: { d: string }[] };
      expect(opened.keys.length).toBe(2);
      for (const k of opened.keys) expect(JSON.stringify(rows)).not.toContain(k.d);
      const { kid } = await signInAndVerify(t);
      expect(opened.keys.map((k) => (k as { kid?: string }).kid)).toContain(kid);
      // The row cannot be moved to another name: the name is the sealed value's additional data.
      expect(() => box(k1).open((rows[0]!.value as { sealed: string }).sealed, 'vapid')).toThrow();
    } finally { await t.close(); }
  });
});

describe('rotating the key-encryption key (PostgreSQL)', () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'keys-rotate-'));
  let drop: () => Promise<void> = async () => {};
  afterAll(async () => { await drop(); rmSync(dataDir, { recursive: true, force: true }); });

  it('`secrets rewrap` re-seals the keystore under the new key; with the old key removed the IdP signs with the same keys', async () => {
    const schema = await freshSchemaUrl();
    drop = schema.drop;
    const opts: TestIdpOptions = { storage: 'postgres', schema: schema.schema, dataDir, port: await freePort(), redisPrefix: uniquePrefix('rot'), clients: [testRp()] };
    const first = await startTestIdp({ ...opts, env: { KEK: env(k1) } });
    let kidBefore: string;
    let jwksBefore: unknown;
    try {
      await first.idp.accounts.create({ username: 'kim', passwordHash: await hashPassword('granite meadow compass') });
      kidBefore = (await signInAndVerify(first)).kid;
      jwksBefore = await (await fetch(`${first.url}/jwks`)).json();
    } finally { await first.stop(); }

    const cli = await runAdminCli(['secrets', 'rewrap'], { env: { DATABASE_URL: schema.url, DATA_DIR: dataDir, KEK: env(k2, k1) } });
    expect(cli.stderr).toBe('');
    expect(cli.stdout).toContain('re-sealed 4 of 4 stored keys'); // the signing keys, the VAPID key, the issuer record and the demo password

    // Started with a key the rows were not sealed with, the IdP stops and names KEK.
    await expect(startTestIdp({ ...opts, env: { KEK: env(kek('k3')) } })).rejects.toThrow(/KEK: cannot open the stored key "oidc-signing-jwks"/);

    const second = await startTestIdp({ ...opts, env: { KEK: env(k2) } });
    try {
      for (const r of await keystore(second)) expect(r.value).toEqual({ sealed: expect.stringMatching(/^v1\.k2\./) });
      expect(await (await fetch(`${second.url}/jwks`)).json()).toEqual(jwksBefore);
      expect((await signInAndVerify(second)).kid).toBe(kidBefore);
    } finally { await second.stop(); }
  });
});
