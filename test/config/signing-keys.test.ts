import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import { startTestIdp } from '../support/idp.js';

/** Signing keys supplied by the operator (JWKS_FILE) are used as they are; generated ones carry x5c. */
describe('signing keys', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'jwks-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('generates an RS256 key with an x5c certificate chain and an ES256 key', async () => {
    const t = await startTestIdp({ storage: 'postgres' });
    try {
      const { keys } = await (await fetch(`${t.url}/jwks`)).json() as { keys: Array<Record<string, unknown>> };
      const rsa = keys.find((k) => k.kty === 'RSA')!;
      expect(rsa.alg).toBe('RS256');
      expect((rsa.x5c as string[])[0]).toMatch(/^MII/);
      expect(keys.some((k) => k.kty === 'EC' && k.alg === 'ES256')).toBe(true);
      expect(keys.every((k) => k.d === undefined)).toBe(true);
    } finally {
      await t.close();
    }
  });

  it('uses the keys of JWKS_FILE, and refuses a file without a private RSA key', async () => {
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    const jwk = { ...(await exportJWK(privateKey)), kid: 'operator-key-1', alg: 'RS256', use: 'sig' };
    const file = path.join(dir, 'jwks.json');
    writeFileSync(file, JSON.stringify({ keys: [jwk] }));
    const t = await startTestIdp({ storage: 'postgres', env: { JWKS_FILE: file } });
    try {
      const { keys } = await (await fetch(`${t.url}/jwks`)).json() as { keys: Array<{ kid: string }> };
      expect(keys.map((k) => k.kid)).toEqual(['operator-key-1']);
    } finally {
      await t.close();
    }
    const { d: _d, ...publicOnly } = jwk;
    writeFileSync(file, JSON.stringify({ keys: [publicOnly] }));
    await expect(startTestIdp({ storage: 'postgres', env: { JWKS_FILE: file } })).rejects.toThrow(/keys\.0: must be a private key/);
  });
});
