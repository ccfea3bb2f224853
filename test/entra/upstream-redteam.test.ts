import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { createFederatedLinks, entraIssuer } from '../../src/upstream/links.js';
import { upstreamSchema, upstreamTrust } from '../../src/upstream/config.js';
import { verifyHint } from '../../src/upstream/verify-hint.js';
import { linkName, namesUsername } from '../../src/signin/upstream.js';
import { EntraStandIn } from '../support/entra-standin.js';
import { matchNumberOf, PushWorld, RP_CALLBACK } from '../support/push-world.js';
import { testRp, TEST_RP_SECRET } from '../support/idp.js';
import { FormBrowser } from '../support/web-browser.js';
import { addUser, auditEvents, enroll, pushStatus, startWorld } from '../signin/helpers.js';
import { ENTRA_CLIENT, entraAuthorize, entraClientFile, linkedEntraUser, replyOf } from './helpers.js';

/**
 * Red-team findings (federation round, 2026-12-05), each fixed:
 * - auto-linking looked the account up with PostgreSQL's lower(), which folds look-alikes ("mİke"
 *   to "mike", the Kelvin sign to "k"): a broker user with a distinct look-alike name was linked to
 *   another user's account, and the link was written before that account's phone approved anything;
 * - an `email` link claim was taken without `email_verified`;
 * - a NUL in a signed hint's `sub` or link claim was a 500 (PostgreSQL text cannot hold it);
 * - a password posted into an MFA-only app's sign-in sent a push labelled with the app (Microsoft's
 *   sign-in) and, approved, left the poster's browser a full session;
 * - tenants of Microsoft's US Government and China clouds could not sign in at all;
 * - a key from Entra's key set signed for any issuer, whatever `issuer` the set names for it.
 */
const BROKER_ISS = 'https://broker.example/realms/staff';
const GOV_CLIENT = '9b2d7c1e-5f4a-4c3b-8e2d-1a0b9c8d7e6f';

describe('upstream sign-ins, attacked', () => {
  let keys: EntraStandIn;
  let w: PushWorld;
  beforeAll(async () => {
    keys = await EntraStandIn.start();
    w = await startWorld({
      clients: [
        entraClientFile(keys),
        entraClientFile(keys, { client_id: GOV_CLIENT, upstream: { profile: 'entra', cloud: 'usgov', tenants: [EntraStandIn.tenant], jwks_uri: keys.keysUrl } }),
        testRp({ client_id: 'broker-autolink', client_name: 'Staff broker', login: { consent: 'implicit' }, upstream: { profile: 'generic', issuer: BROKER_ISS, jwks_uri: keys.keysUrl, link_claim: 'preferred_username' } }),
        testRp({ client_id: 'broker-email', client_name: 'Staff broker', login: { consent: 'implicit' }, upstream: { profile: 'generic', issuer: BROKER_ISS, jwks_uri: keys.keysUrl, link_claim: 'email' } }),
      ],
    });
  }, 60_000);
  afterAll(async () => { await w.close(); await keys.close(); });

  async function authorize(clientId: string, hint: string) {
    const config = await oidc.discovery(new URL(w.t.url), clientId, TEST_RP_SECRET, undefined, { execute: [oidc.allowInsecureRequests] });
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: RP_CALLBACK, scope: 'openid', state: oidc.randomState(), id_token_hint: hint,
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256',
    });
    const browser = new FormBrowser(w.t.url);
    const page = await browser.go(url.href);
    return { browser, page, uid: page.url.match(/\/interaction\/([^/?]+)/)?.[1] ?? null };
  }
  const links = () => createFederatedLinks(w.t.idp.db);

  it('a look-alike upstream name links nobody and sends no push', async () => {
    const mike = await addUser(w, 'mike');
    const kate = await addUser(w, 'kate');
    const mikePhone = await enroll(w, { accountId: mike });
    await enroll(w, { accountId: kate, push: false });
    for (const name of ['m\u0130ke', '\u212Aate', 'mi\u200Bke', 'MIKE\u0301']) {
      const sub = randomUUID();
      const { page } = await authorize('broker-autolink', await keys.hint('broker-autolink', { iss: BROKER_ISS, sub, preferred_username: name }));
      expect({ name, status: page.res.status }).toEqual({ name, status: 403 });
      expect(await links().find(BROKER_ISS, sub)).toBeNull();
    }
    expect(w.pushService.messages.filter((m) => m.subscriptionId === mikePhone.subscription!.id)).toHaveLength(0);
  });

  it('an automatic link is written only once the account\'s phone approves: a denied push links nothing', async () => {
    const nina = await addUser(w, 'nina');
    const { phone, subscription } = await enroll(w, { accountId: nina });
    const sub = randomUUID();
    const hint = () => keys.hint('broker-autolink', { iss: BROKER_ISS, sub, preferred_username: 'NINA', iat: Math.floor(Date.now() / 1000) - Math.floor(Math.random() * 20) });

    const first = await authorize('broker-autolink', await hint());
    expect(first.page.url).toMatch(/\/second-factor$/);
    expect(await links().find(BROKER_ISS, sub)).toBeNull();
    await first.browser.submit(first.page.body, /\/push$/, {});
    const denied = await w.pushService.waitForMessage(subscription!.id, 5000);
    expect((await phone.respond((denied.payload as { cid: string }).cid, 'deny')).status).toBe(200);
    expect((await pushStatus(first.browser, first.uid!)).status).toBe('denied');
    expect(await links().find(BROKER_ISS, sub)).toBeNull();

    const second = await authorize('broker-autolink', await hint());
    const wait = await second.browser.submit(second.page.body, /\/push$/, {});
    const approved = await w.pushService.waitForMessage(subscription!.id, 5000);
    expect((await phone.respond((approved.payload as { cid: string }).cid, 'approve', { number: matchNumberOf(wait.body)! })).status).toBe(200);
    const status = await pushStatus(second.browser, second.uid!);
    const back = await second.browser.go(status.next!);
    expect(back.url).toMatch(/^http:\/\/127\.0\.0\.1:1\/cb\?code=/);
    expect(await links().find(BROKER_ISS, sub)).toMatchObject({ accountId: nina });
    expect((await auditEvents(w, 'federation.link')).filter((e) => e.detail.subject === sub)).toEqual([
      expect.objectContaining({ account_id: nina, detail: expect.objectContaining({ by: 'auto', claim: 'nina' }) }),
    ]);
  });

  it('an email claim links only when the upstream verified it', async () => {
    const olga = await addUser(w, 'olga@corp.example');
    await enroll(w, { accountId: olga, push: false });
    for (const claims of [{ email: 'olga@corp.example' }, { email: 'olga@corp.example', email_verified: 'true' }, { email: 'olga@corp.example', email_verified: false }]) {
      const { page } = await authorize('broker-email', await keys.hint('broker-email', { iss: BROKER_ISS, sub: randomUUID(), claims }));
      expect({ claims, status: page.res.status }).toEqual({ claims, status: 403 });
    }
    const ok = await authorize('broker-email', await keys.hint('broker-email', { iss: BROKER_ISS, sub: randomUUID(), claims: { email: 'olga@corp.example', email_verified: true } }));
    expect(ok.page.url).toMatch(/\/second-factor$/);
  });

  it('a NUL or a lone surrogate in a signed hint is access_denied at the app, not a 500', async () => {
    for (const claims of [{ sub: `x\u0000${randomUUID()}` }, { sub: `\uD800${randomUUID()}` }, { sub: randomUUID(), preferred_username: 'ali\u0000ce' }]) {
      const { page } = await authorize('broker-autolink', await keys.hint('broker-autolink', { iss: BROKER_ISS, preferred_username: 'nobody', ...claims }));
      expect({ claims, url: page.url }).toEqual({ claims, url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:1\/cb\?error=access_denied/) });
    }
  });

  it('a password posted into an Entra sign-in is access_denied at once: no push to the password\'s account, no session', async () => {
    const attacker = await addUser(w, 'mallory-e');
    await enroll(w, { accountId: attacker, push: false });
    const own = await linkedEntraUser(w, attacker);
    const victim = await addUser(w, 'victor-e');
    const victimPhone = await enroll(w, { accountId: victim });
    const { browser, uid } = await entraAuthorize(w, keys.authorizeFields(ENTRA_CLIENT, await keys.hint(ENTRA_CLIENT, { oid: own.oid, sub: own.sub })));
    const choice = await browser.go(`/interaction/${uid}/second-factor`);
    const csrf = choice.body.match(/name="csrf" value="([^"]+)"/)![1]!;
    const posted = await browser.go(`/interaction/${uid}/login`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf, username: 'victor-e', password: PushWorld.password }).toString(),
    });
    expect(replyOf(posted, keys)).toMatchObject({ error: 'access_denied' });
    expect(w.pushService.messages.filter((m) => m.subscriptionId === victimPhone.subscription!.id)).toHaveLength(0);
    // The browser holds no session of the victim's: an ordinary app asks for a sign-in.
    const url = oidc.buildAuthorizationUrl(w.rp, {
      redirect_uri: RP_CALLBACK, scope: 'openid', prompt: 'none',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256',
    });
    expect((await browser.go(url.href)).url).toMatch(/error=login_required/);
  });

  it('a US Government tenant signs in through a client file with cloud "usgov"; a global-cloud hint is refused there', async () => {
    const accountId = await addUser(w, 'gov-user');
    await enroll(w, { accountId, push: false });
    const oid = randomUUID();
    await links().link(entraIssuer(EntraStandIn.tenant, 'usgov'), oid, accountId);
    const govIss = `https://login.microsoftonline.us/${EntraStandIn.tenant}/v2.0`;
    // Microsoft's US Government key set names its own issuer template.
    keys.keyIssuer = 'https://login.microsoftonline.us/{tenantid}/v2.0';
    try {
      const gov = await entraAuthorize(w, keys.authorizeFields(GOV_CLIENT, await keys.hint(GOV_CLIENT, { oid, iss: govIss })));
      expect(gov.page.url).toMatch(/\/interaction\/[^/]+\/second-factor$/);
      const global = await entraAuthorize(w, keys.authorizeFields(GOV_CLIENT, await keys.hint(GOV_CLIENT, { oid })));
      expect(replyOf(global.page, keys)).toMatchObject({ error: 'access_denied', error_description: 'id_token_hint refused (issuer)' });
    } finally {
      keys.keyIssuer = 'https://login.microsoftonline.com/{tenantid}/v2.0';
    }
  });
});

describe('what decides a link, and an Entra key\'s issuer', () => {
  it('a name names a username only letter for letter, A-Z case aside', () => {
    expect(namesUsername('ALICE', 'alice')).toBe(true);
    expect(namesUsername('m\u0130ke', 'mike')).toBe(false);
    expect(namesUsername('\u212Aate', 'kate')).toBe(false);
    expect(namesUsername('\u00C9lodie', '\u00E9lodie')).toBe(false);
    expect(namesUsername('\u00E9lodie', '\u00E9lodie')).toBe(true);
  });

  it('an email claim needs email_verified true', () => {
    expect(linkName({ email: 'a@b.example', email_verified: true }, 'email')).toBe('a@b.example');
    expect(linkName({ email: 'a@b.example', email_verified: 'true' }, 'email')).toBeNull();
    expect(linkName({ preferred_username: 'a' }, 'preferred_username')).toBe('a');
    expect(linkName({ preferred_username: 'x'.repeat(101) }, 'preferred_username')).toBeNull();
  });

  it('the entra profile refuses an email link claim, and cloud is the entra profile\'s only', () => {
    expect(upstreamSchema.safeParse({ profile: 'entra', tenants: [EntraStandIn.tenant], link_claim: 'email' }).success).toBe(false);
    expect(upstreamSchema.safeParse({ profile: 'generic', issuer: BROKER_ISS, jwks_uri: 'https://broker.example/keys', cloud: 'usgov' }).success).toBe(false);
    const china = upstreamTrust(upstreamSchema.parse({ profile: 'entra', cloud: 'china', tenants: [EntraStandIn.tenant] }));
    expect(china).toMatchObject({ authority: 'https://login.partner.microsoftonline.cn', jwksUri: 'https://login.partner.microsoftonline.cn/common/discovery/v2.0/keys' });
  });

  it('a key whose own issuer is another cloud\'s (or not a string) does not sign for this one', async () => {
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1' };
    const trust = upstreamTrust(upstreamSchema.parse({ profile: 'entra', tenants: [EntraStandIn.tenant] }));
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ tid: EntraStandIn.tenant, oid: randomUUID() }).setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setIssuer(`https://login.microsoftonline.com/${EntraStandIn.tenant}/v2.0`).setAudience(ENTRA_CLIENT).setSubject('s').setIssuedAt(now).sign(privateKey);
    const verify = (issuer: unknown) => verifyHint(token, { trust, clientId: ENTRA_CLIENT, nowSeconds: now, keys: { key: async () => ({ ...jwk, ...(issuer === undefined ? {} : { issuer }) } as never) } as never });
    expect(await verify(undefined)).toMatchObject({ ok: true });
    expect(await verify('https://login.microsoftonline.com/{tenantid}/v2.0')).toMatchObject({ ok: true });
    expect(await verify('https://login.microsoftonline.us/{tenantid}/v2.0')).toEqual({ ok: false, reason: 'issuer' });
    expect(await verify(`https://login.microsoftonline.com/${randomUUID()}/v2.0`)).toEqual({ ok: false, reason: 'issuer' });
    expect(await verify(42)).toEqual({ ok: false, reason: 'issuer' });
  });

  // Red-team (entra round, 2026-12-06): an access token (at+jwt, or Keycloak's typ "Bearer" with our
  // client id added by its audience mapper) or a logout token of the broker started a sign-in; an
  // encryption key verified a hint; an nbf an hour ahead was taken.
  describe('a broker hint must be an ID token, signed by a signing key, not before its nbf', () => {
    const trust = upstreamTrust(upstreamSchema.parse({ profile: 'generic', issuer: BROKER_ISS, jwks_file: 'unused.json' }));
    const now = Math.floor(Date.now() / 1000);
    let privateKey: CryptoKey;
    let publicJwk: Record<string, unknown>;
    beforeAll(async () => {
      const pair = await generateKeyPair('RS256');
      privateKey = pair.privateKey as CryptoKey;
      publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1' };
    });
    const sign = (claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}) => new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: 'k1', ...header }).setIssuer(BROKER_ISS).setAudience('broker-autolink')
      .setSubject('someone').setIssuedAt(now).sign(privateKey);
    const verify = async (token: string, key: Record<string, unknown> = {}) =>
      verifyHint(token, { trust, clientId: 'broker-autolink', nowSeconds: now, keys: { key: async () => ({ ...publicJwk, ...key }) as never } as never });

    it('an ID token passes, with or without typ JWT, azp ours, Keycloak typ ID, nbf now', async () => {
      expect(await verify(await sign())).toMatchObject({ ok: true });
      expect(await verify(await sign({ azp: 'broker-autolink', typ: 'ID', nbf: now }, { typ: 'JWT' }))).toMatchObject({ ok: true });
      expect(await verify(await sign({}, { typ: 'application/jwt' }))).toMatchObject({ ok: true });
      expect(await verify(await sign(), { use: 'sig', alg: 'RS256', key_ops: ['verify'] }), ).toMatchObject({ ok: true });
    });

    it.each([
      ['an RFC 9068 access token', {}, { typ: 'at+jwt' }],
      ['a logout token (typ)', {}, { typ: 'logout+jwt' }],
      ['a logout token (events)', { events: { 'http://schemas.openid.net/event/backchannel-logout': {} } }, {}],
      ['Keycloak\'s access token', { typ: 'Bearer', azp: 'broker-autolink' }, { typ: 'JWT' }],
      ['Keycloak\'s refresh token', { typ: 'Refresh' }, {}],
      ['a token another app asked for', { azp: 'some-other-app' }, {}],
    ])('%s is no hint', async (_what, claims, header) => {
      expect(await verify(await sign(claims, header))).toEqual({ ok: false, reason: 'not_id_token' });
    });

    it.each([
      [{ use: 'enc' }], [{ key_ops: ['encrypt'] }], [{ key_ops: 'verify' }], [{ alg: 'RSA-OAEP' }], [{ alg: 'PS256' }],
    ])('a key published as %j verifies no hint', async (key) => {
      expect(await verify(await sign(), key)).toEqual({ ok: false, reason: 'algorithm' });
    });

    it('an nbf more than 60 s ahead is refused; 59 s ahead passes', async () => {
      expect(await verify(await sign({ nbf: now + 3600 }))).toEqual({ ok: false, reason: 'future' });
      expect(await verify(await sign({ nbf: now + 59 }))).toMatchObject({ ok: true });
      expect(await verify(await sign({ nbf: 'soon' }))).toEqual({ ok: false, reason: 'malformed' });
    });
  });
});
