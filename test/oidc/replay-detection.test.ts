import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import * as oidc from 'openid-client';
import { REPLAY_MARGIN_SECONDS, REPLAY_MAX_SECONDS, replayTtlSeconds } from '../../src/oidc/replay-detection.js';
import { startTestIdp, testRp, TEST_RP_SECRET, type TestIdp } from '../support/idp.js';
import { signInToCallback } from '../support/rp-sign-in.js';

/**
 * A client assertion's and a DPoP proof's jti are taken once (RFC 7523 3, RFC 9449 11.1), also when
 * copies arrive at once, and a token's `exp` is read as a number of any shape. Red-team findings:
 * oidc-provider's ReplayDetection read the marker and then wrote it, so 2 of 10 parallel copies of
 * one assertion passed; a fractional or huge `exp` made Redis refuse the marker's EX: a 500.
 */
describe('replay detection: client assertions and DPoP proofs', () => {
  let t: TestIdp;
  const secret = new TextEncoder().encode(TEST_RP_SECRET);
  beforeAll(async () => {
    t = await startTestIdp({
      storage: 'postgres', redis: 'real',
      clients: [
        testRp({ login: { consent: 'implicit' } }),
        testRp({ client_id: 'jwt-rp', client_name: 'JWT RP', token_endpoint_auth_method: 'client_secret_jwt', login: { consent: 'implicit' } }),
      ],
    });
  });
  afterAll(() => t.close());

  const assertion = (claims: Record<string, unknown> = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ iss: 'jwt-rp', sub: 'jwt-rp', aud: `${t.url}/token`, jti: crypto.randomUUID(), exp: now + 60, iat: now, ...claims })
      .setProtectedHeader({ alg: 'HS256' }).sign(secret);
  };
  const introspect = async (clientAssertion: string) => {
    const res = await fetch(`${t.url}/token/introspection`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({
        token: 'not-a-token', client_id: 'jwt-rp',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: clientAssertion,
      }),
    });
    return { status: res.status, body: await res.json() as Record<string, unknown> };
  };

  it('how long a jti is kept: whole seconds until its expiry and five minutes more (a DPoP proof dated ahead), at most a year and a day', () => {
    expect(replayTtlSeconds(1060.5, 1000)).toBe(61 + REPLAY_MARGIN_SECONDS);
    expect(replayTtlSeconds(1000.2, 1000)).toBe(1 + REPLAY_MARGIN_SECONDS);
    expect(replayTtlSeconds(999, 1000)).toBe(1 + REPLAY_MARGIN_SECONDS);
    expect(REPLAY_MARGIN_SECONDS).toBeGreaterThanOrEqual(300); // oidc-provider takes a proof until iat + 300 s
    expect(replayTtlSeconds(1e17, 1000)).toBe(REPLAY_MAX_SECONDS);
    expect(replayTtlSeconds(Number.NaN, 1000)).toBe(REPLAY_MAX_SECONDS);
  });

  it('an assertion with a fractional or far-future exp authenticates once, then is a replay (never a 500)', async () => {
    const now = Math.floor(Date.now() / 1000);
    for (const exp of [now + 60.5, 1e17]) {
      const a = await assertion({ exp });
      expect((await introspect(a)).status).toBe(200);
      const again = await introspect(a);
      expect(again.status).toBe(401);
      expect(again.body.error).toBe('invalid_client');
    }
  });

  it('of twelve copies of one assertion sent at once, exactly one authenticates', async () => {
    for (let round = 0; round < 3; round++) {
      const a = await assertion();
      const outcomes = await Promise.all(Array.from({ length: 12 }, () => introspect(a)));
      expect(outcomes.filter((o) => o.status === 200)).toHaveLength(1);
      expect(outcomes.filter((o) => o.status === 401 && o.body.error === 'invalid_client')).toHaveLength(11);
    }
  });

  it('of twelve copies of one DPoP proof sent at once to userinfo, exactly one is taken', async () => {
    const config = await oidc.discovery(new URL(t.url), 'test-rp', TEST_RP_SECRET, undefined, { execute: [oidc.allowInsecureRequests] });
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const jwk = await exportJWK(publicKey);
    const { callback, verifier } = await signInToCallback(t, config, 'dpop-parallel');
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: 's' }, undefined, { DPoP: oidc.getDPoPHandle(config, { publicKey, privateKey }) });
    expect(tokens.token_type.toLowerCase()).toBe('dpop');
    const ath = Buffer.from(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(tokens.access_token))).toString('base64url');
    const proof = () => new SignJWT({ htm: 'GET', htu: `${t.url}/me`, ath, jti: crypto.randomUUID(), iat: Math.floor(Date.now() / 1000) })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk }).sign(privateKey);
    const call = (p: string) => fetch(`${t.url}/me`, { headers: { authorization: `DPoP ${tokens.access_token}`, dpop: p, accept: 'application/json' } }).then((r) => r.status);
    for (let round = 0; round < 3; round++) {
      const p = await proof();
      const outcomes = await Promise.all(Array.from({ length: 12 }, () => call(p)));
      expect(outcomes.filter((s) => s === 200)).toHaveLength(1);
      expect(outcomes.filter((s) => s === 401)).toHaveLength(11);
    }
  });
});
