import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { compactVerify, importJWK, type JWK } from 'jose';
import Provider from 'oidc-provider';
import { EXTERNAL_SIGNING, LocalSigningKey, providerSigningKeys } from '../../src/oidc/fast-signing.js';

/**
 * ID tokens are signed in place with node:crypto (src/oidc/fast-signing.ts) instead of through
 * WebCrypto. What a relying app sees must be the same: the published JWKS, and signatures that
 * verify with it.
 */
function keys(): JWK[] {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }) as JWK;
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }) as JWK;
  return [
    { ...rsa, kid: 'rsa-1', use: 'sig', alg: 'RS256', x5c: [randomBytes(64).toString('base64')] },
    { ...ec, kid: 'ec-1', use: 'sig', alg: 'ES256' },
  ];
}

async function serve(provider: Provider): Promise<{ server: Server; url: string }> {
  const server = createServer(provider.callback());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('ID token signing in place', () => {
  const jwks = { keys: keys() };
  const servers: Server[] = [];
  let plainUrl = '';
  let fastUrl = '';
  beforeAll(async () => {
    const plain = await serve(new Provider('http://127.0.0.1/', { jwks: jwks as never, features: { devInteractions: { enabled: false } } }));
    const fast = await serve(new Provider('http://127.0.0.1/', { jwks: providerSigningKeys(jwks) as never, features: { devInteractions: { enabled: false }, externalSigningSupport: EXTERNAL_SIGNING } }));
    servers.push(plain.server, fast.server);
    plainUrl = plain.url;
    fastUrl = fast.url;
  });
  afterAll(async () => { await Promise.all(servers.map((s) => new Promise((r) => s.close(r)))); });

  it('publishes the same JWKS as the keys given as JWKs, without any private member', async () => {
    const plain = await (await fetch(`${plainUrl}/jwks`)).json() as { keys: JWK[] };
    const fast = await (await fetch(`${fastUrl}/jwks`)).json() as { keys: JWK[] };
    expect(fast).toEqual(plain);
    expect(fast.keys.map((k) => k.kid)).toEqual(['rsa-1', 'ec-1']);
    for (const k of fast.keys) expect(Object.keys(k).filter((m) => ['d', 'p', 'q', 'dp', 'dq', 'qi'].includes(m))).toEqual([]);
    expect(fast.keys[0]!.x5c).toEqual(jwks.keys[0]!.x5c);
  });

  it.each(['RS256', 'ES256'])('makes %s signatures that verify with the published key, and with no other', async (alg) => {
    const published = (await (await fetch(`${fastUrl}/jwks`)).json() as { keys: JWK[] }).keys.find((k) => k.alg === alg)!;
    const key = providerSigningKeys(jwks).keys.find((k) => k.alg === alg) as LocalSigningKey;
    expect(key).toBeInstanceOf(LocalSigningKey);
    const header = Buffer.from(JSON.stringify({ alg, kid: key.kid })).toString('base64url');
    const body = Buffer.from(JSON.stringify({ sub: 'someone' })).toString('base64url');
    const jws = `${header}.${body}.${Buffer.from(key.sign(Buffer.from(`${header}.${body}`))).toString('base64url')}`;
    const { payload } = await compactVerify(jws, await importJWK(published, alg));
    expect(JSON.parse(Buffer.from(payload).toString())).toEqual({ sub: 'someone' });
    const tampered = `${header}.${Buffer.from(JSON.stringify({ sub: 'someone else' })).toString('base64url')}.${jws.split('.')[2]}`;
    await expect(compactVerify(tampered, await importJWK(published, alg))).rejects.toThrow();
  });

  it('leaves keys of other algorithms, and public keys, as JWKs', () => {
    const ps = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }) as JWK;
    const { d: _d, ...pub } = jwks.keys[1]!;
    const out = providerSigningKeys({ keys: [{ ...ps, kid: 'ps', alg: 'PS256' }, { ...pub, kid: 'pub' }] }).keys;
    expect(out.some((k) => k instanceof LocalSigningKey)).toBe(false);
    expect(out.map((k) => k.kid)).toEqual(['ps', 'pub']);
  });
});
