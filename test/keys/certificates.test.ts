import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import type { JWK } from 'jose';
import { createSecretBox } from '../../src/crypto/secretbox.js';
import { loadProcessSecrets } from '../../src/keys/secrets.js';
import { updateKey } from '../../src/keys/keystore.js';
import { readStoredSigningKeys } from '../../src/keys/signing-keys.js';
import type { StoredSigningKeys } from '../../src/keys/signing-rotation.js';
import { openPostgres } from '../../src/storage/postgres.js';
import { startTestIdp, type TestIdp } from '../support/idp.js';

/**
 * Microsoft's EAM reference: the JWKS's `x5c` "must be present to provide X.509 representations of
 * keys provided" (red-team, Entra round: the ES256 key had none). Every published key carries a
 * certificate of its own public key; a key stored before, without one, gets it at the next read.
 */
describe('every published signing key carries its certificate', () => {
  let t: TestIdp;
  beforeAll(async () => { t = await startTestIdp({ storage: 'postgres', redis: 'real' }); });
  afterAll(async () => { await t?.close(); });

  const publicOf = (cert: string) => new X509Certificate(Buffer.from(cert, 'base64')).publicKey.export({ format: 'jwk' }) as JWK;
  const published = async () => ((await (await fetch(`${t.url}/jwks`)).json()) as { keys: JWK[] }).keys;

  it('RS256 and ES256 alike: x5c is a certificate of that very key', async () => {
    const keys = await published();
    expect(keys.map((k) => k.alg).sort()).toEqual(['ES256', 'RS256']);
    for (const k of keys) {
      expect(k.x5c).toHaveLength(1);
      const pub = publicOf(k.x5c![0]!);
      if (k.kty === 'EC') expect({ crv: pub.crv, x: pub.x, y: pub.y }).toEqual({ crv: k.crv, x: k.x, y: k.y });
      else expect({ n: pub.n, e: pub.e }).toEqual({ n: k.n, e: k.e });
      expect(k.d).toBeUndefined();
    }
  });

  it('a key stored without one (as ES256 keys were) gets it at the next read, under the same kid', async () => {
    const db = openPostgres(t.settings.databaseUrl!);
    try {
      const { kek } = loadProcessSecrets(t.settings);
      const box = createSecretBox(kek, kek[0]!.id);
      const strip = (stored: StoredSigningKeys) => ({ ...stored, keys: stored.keys.map((k) => (k.kty === 'EC' ? (({ x5c: _x5c, ...rest }) => rest)(k) : k)) });
      const before = await updateKey<StoredSigningKeys>(db, 'oidc-signing-jwks', box, async () => { throw new Error('exists'); }, strip);
      expect(before.keys.find((k) => k.kty === 'EC')!.x5c).toBeUndefined();
      const after = await readStoredSigningKeys(db, t.settings.issuer, box);
      expect(after.keys.map((k) => k.kid)).toEqual(before.keys.map((k) => k.kid));
      const ec = after.keys.find((k) => k.kty === 'EC')!;
      expect(publicOf(ec.x5c![0]!)).toMatchObject({ x: ec.x, y: ec.y });
      // Kept: a second read changes nothing.
      expect((await readStoredSigningKeys(db, t.settings.issuer, box)).keys).toEqual(after.keys);
    } finally {
      await db.close();
    }
  });
});
