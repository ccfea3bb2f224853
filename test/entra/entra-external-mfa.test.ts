import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import { EntraStandIn, ENTRA_ACR_CLAIMS } from '../support/entra-standin.js';
import * as oidc from 'openid-client';
import { matchNumberOf, PushWorld, RP_CALLBACK } from '../support/push-world.js';
import { FormBrowser } from '../support/web-browser.js';
import { addUser, auditEvents, enroll, movableClock, pushStatus, sendPush, startWorld } from '../signin/helpers.js';
import { ENTRA_CLIENT, entraAuthorize, entraClientFile, linkedEntraUser, replyOf, rpView } from './helpers.js';

/**
 * Microsoft Entra ID External MFA (docs/entra.md), against the Entra stand-in at the HTTP level:
 * Entra POSTs the authorize request with its already-expired id_token_hint; the user does only
 * the second factor; the answer goes back by form post with the hint's sub, the nonce, one
 * requested acr and one amr, as openid-client validates it. Every refusal answers access_denied
 * (temporarily_unavailable when Entra's keys cannot be had) and sends no push.
 */
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const kidOf = (jwt: string) => decodeProtectedHeader(jwt).kid!;
const claimsOf = (jwt: string) => decodeJwt(jwt);

describe('Entra External MFA', () => {
  const clock = movableClock();
  let entra: EntraStandIn;
  let w: PushWorld;
  beforeAll(async () => {
    entra = await EntraStandIn.start();
    w = await startWorld({
      clients: [
        entraClientFile(entra),
        // The same profile with Entra's keys out of reach.
        { ...entraClientFile(entra), client_id: 'entra-keys-down', redirect_uris: [entra.replyUrl], upstream: { profile: 'entra', tenants: [EntraStandIn.tenant], jwks_uri: 'http://127.0.0.1:1/keys' } },
        // Automatic linking by the hint's preferred_username.
        { ...entraClientFile(entra), client_id: 'entra-autolink', upstream: { profile: 'entra', tenants: [EntraStandIn.tenant], jwks_uri: entra.keysUrl, link_claim: 'preferred_username' } },
      ],
      idp: { idp: { now: clock.now } },
    });
  });
  afterAll(async () => { await w.close(); await entra.close(); });

  let n = 0;
  /** A fresh account here with a phone (push or not), linked to a fresh user at the Entra tenant. */
  const person = async (opts: { push?: boolean } = {}) => {
    const username = `entra-user-${++n}`;
    const accountId = await addUser(w, username);
    const phone = await enroll(w, { accountId, now: clock.now, ...opts });
    return { accountId, username, ...phone, ...(await linkedEntraUser(w, accountId)) };
  };

  const refusedWith = async (fields: Record<string, string>, error = 'access_denied') => {
    const { page } = await entraAuthorize(w, fields);
    const reply = replyOf(page, entra);
    expect(reply).toMatchObject({ error, state: fields.state });
    expect(reply.id_token).toBeUndefined();
    return reply;
  };

  it('discovery, tokens and configuration share one issuer; the JWKS carries x5c; discovery sends Content-Length', async () => {
    const res = await fetch(`${w.t.url}/.well-known/openid-configuration`);
    expect(res.headers.get('content-length')).toMatch(/^\d+$/);
    const meta = await res.json() as { issuer: string; jwks_uri: string; response_modes_supported: string[]; id_token_signing_alg_values_supported: string[]; claims_parameter_supported: boolean };
    expect(meta.issuer).toBe(w.t.url);
    expect(meta.response_modes_supported).toContain('form_post');
    expect(meta.id_token_signing_alg_values_supported).toContain('RS256');
    expect(meta.claims_parameter_supported).toBe(true);
    const jwks = await (await fetch(meta.jwks_uri)).json() as { keys: { kty: string; alg?: string; x5c?: string[]; d?: string }[] };
    const rsa = jwks.keys.filter((k) => k.kty === 'RSA');
    expect(rsa.length).toBeGreaterThan(0);
    for (const k of rsa) {
      expect(k.x5c?.length).toBeGreaterThan(0);
      expect(k.d).toBeUndefined();
    }
  });

  it('push approved on the phone: the hint\'s sub, the nonce, one requested acr and amr ["otp"] go back, RS256, as openid-client validates', async () => {
    const user = await person();
    const { subscription, phone } = user;
    const hint = await entra.hint(ENTRA_CLIENT, { oid: user.oid, sub: user.sub });
    const fields = entra.authorizeFields(ENTRA_CLIENT, hint, {
      claims: { id_token: { acr: { essential: true, values: ['knowledge', 'possessionorinherence', 'knowledgeorpossession'] }, amr: ENTRA_ACR_CLAIMS.id_token.amr } },
    });
    const { browser, page, uid } = await entraAuthorize(w, fields);
    // Straight to the second factor: no password page.
    expect(page.url).toMatch(/\/second-factor$/);
    expect(page.body).not.toContain('name="password"');
    const wait = await sendPush(browser, page.body);
    const message = await w.pushService.waitForMessage(subscription!.id, 5000);
    expect(message.payload).toMatchObject({ app: 'Microsoft Entra ID' });
    const cid = (message.payload as { cid: string }).cid;
    expect((await phone.respond(cid, 'approve', { number: matchNumberOf(wait.body)! })).status).toBe(200);
    const status = await pushStatus(browser, uid!);
    expect(status.status).toBe('approved');
    const done = await browser.go(status.next);
    const reply = replyOf(done, entra);
    expect(reply.state).toBe(fields.state);

    const idToken = reply.id_token!;
    expect(decodeProtectedHeader(idToken).alg).toBe('RS256');
    const claims = await rpView(w, entra, reply, fields.nonce!, fields.state!);
    expect(claims).toMatchObject({ iss: w.t.url, aud: ENTRA_CLIENT, sub: user.sub, nonce: fields.nonce, acr: 'possessionorinherence', amr: ['otp'] });
    expect(typeof claims.iat).toBe('number');
    expect(claims.exp).toBeGreaterThan(claims.iat);
    // And by Entra's route: the keys from our discovery, RS256 only.
    const { payload } = await jwtVerify(idToken, createRemoteJWKSet(new URL(`${w.t.url}/jwks`)), { issuer: w.t.url, audience: ENTRA_CLIENT, algorithms: ['RS256'] });
    expect(payload.sub).toBe(user.sub);
    expect((await auditEvents(w, 'signin.success')).at(-1)).toMatchObject({ account_id: user.accountId, client_id: ENTRA_CLIENT, detail: { amr: ['otp'] } });

    // The session this left behind is no sign-in for the IdP's other apps: they ask for the password.
    const url = oidc.buildAuthorizationUrl(w.rp, {
      redirect_uri: RP_CALLBACK, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256',
    });
    const other = await browser.go(url.href);
    expect(other.url).toMatch(/\/interaction\/[^/]+$/);
    expect(other.body).toContain('name="password"');
  });

  it('a typed passcode: amr ["otp"], acr the one asked for', async () => {
    const user = await person({ push: false });
    const { phone } = user;
    const fields = entra.authorizeFields(ENTRA_CLIENT, await entra.hint(ENTRA_CLIENT, { oid: user.oid, sub: user.sub }));
    const { browser, page, uid } = await entraAuthorize(w, fields);
    expect(page.url).toMatch(/\/second-factor$/);
    // No password was typed here (red-team, Entra round: the page said "Password accepted").
    expect(page.body).not.toContain('Password accepted');
    expect(page.body).toMatch(/One more step to continue to <strong>[^<]+<\/strong>/);
    const form = await browser.go(`/interaction/${uid}/passcode`);
    const done = await browser.submit(form.body, /\/passcode$/, { passcode: phone.currentTotp() });
    const reply = replyOf(done, entra);
    const claims = await rpView(w, entra, reply, fields.nonce!, fields.state!);
    expect(claims).toMatchObject({ sub: user.sub, acr: 'possessionorinherence', amr: ['otp'] });
  });

  it('a guest\'s hint (iss: the tenant signed in to, on the allow-list; tid: the user\'s home tenant, as in both of Microsoft\'s example hints) is taken; the reverse is refused', async () => {
    // Red-team (Entra round): Microsoft's reference hints, whose issuer's tenant is not their tid, were refused.
    const user = await person({ push: false });
    const home = '14c2f153-90a7-4689-9db7-9543bf084dad';
    const iss = `https://login.microsoftonline.com/${EntraStandIn.tenant}/v2.0`;
    const fields = entra.authorizeFields(ENTRA_CLIENT, await entra.hint(ENTRA_CLIENT, { oid: user.oid, sub: user.sub, tid: home, iss }));
    const { browser, page, uid } = await entraAuthorize(w, fields);
    expect(page.url).toMatch(/\/second-factor$/);
    const form = await browser.go(`/interaction/${uid}/passcode`);
    const done = await browser.submit(form.body, /\/passcode$/, { passcode: user.phone.currentTotp() });
    expect(await rpView(w, entra, replyOf(done, entra), fields.nonce!, fields.state!)).toMatchObject({ sub: user.sub, amr: ['otp'] });
    // Another tenant's issuer naming the allowed tenant as its tid: that tenant's Entra issued it, not ours.
    const reversed = await refusedWith(entra.authorizeFields(ENTRA_CLIENT, await entra.hint(ENTRA_CLIENT, {
      oid: user.oid, sub: user.sub, tid: EntraStandIn.tenant, iss: `https://login.microsoftonline.com/${home}/v2.0`,
    })));
    expect(reversed.error_description).toContain('id_token_hint refused');
  });

  it('link_claim links a member of the tenant by name, never a guest (whose names are its home tenant\'s)', async () => {
    // Review: once guests' hints were taken, a guest whose home tenant let it pick a matching name reached the automatic link.
    const username = `entra-named-${++n}`;
    const accountId = await addUser(w, username);
    await enroll(w, { accountId, now: clock.now, push: false });
    const iss = `https://login.microsoftonline.com/${EntraStandIn.tenant}/v2.0`;
    const hint = (tid: string) => entra.hint('entra-autolink', { oid: randomUUID(), iss, tid, preferred_username: username });
    const guest = await entraAuthorize(w, entra.authorizeFields('entra-autolink', await hint('14c2f153-90a7-4689-9db7-9543bf084dad')));
    expect(guest.page.res.status).toBe(403);
    expect(guest.page.body).toContain('not linked to an account here');
    const member = await entraAuthorize(w, entra.authorizeFields('entra-autolink', await hint(EntraStandIn.tenant)));
    expect(member.page.url).toMatch(/\/second-factor$/);
  });

  it('denied on the phone: no token; the user\'s Cancel answers access_denied', async () => {
    const user = await person();
    const { subscription, phone } = user;
    const fields = entra.authorizeFields(ENTRA_CLIENT, await entra.hint(ENTRA_CLIENT, { oid: user.oid, sub: user.sub }));
    const { browser, page, uid } = await entraAuthorize(w, fields);
    const wait = await sendPush(browser, page.body);
    const cid = ((await w.pushService.waitForMessage(subscription!.id, 5000)).payload as { cid: string }).cid;
    expect((await phone.respond(cid, 'deny')).status).toBe(200);
    expect(await pushStatus(browser, uid!)).toMatchObject({ status: 'denied' });
    const page2 = await browser.go(`/interaction/${uid}/wait`);
    const cancelled = await browser.submit(page2.body.includes('/abort') ? page2.body : wait.body, /\/abort$/, {});
    expect(replyOf(cancelled, entra)).toMatchObject({ error: 'access_denied', state: fields.state });
  });

  it('an unknown user gets a page that says so, then access_denied; no push is sent', async () => {
    const fields = entra.authorizeFields(ENTRA_CLIENT, await entra.hint(ENTRA_CLIENT));
    const { browser, page } = await entraAuthorize(w, fields);
    expect(page.res.status).toBe(403);
    expect(page.body).toContain('not linked to an account here');
    const back = await browser.submit(page.body, /\/upstream\/refused$/, {});
    expect(replyOf(back, entra)).toMatchObject({ error: 'access_denied', state: fields.state });
  });

  it('refused with access_denied: stale hint, untrusted tenant, another issuer, wrong audience, forged signature', async () => {
    const user = await person();
    const now = Math.floor(clock.now() / 1000);
    const bad = {
      stale: await entra.hint(ENTRA_CLIENT, { oid: user.oid, sub: user.sub, iat: now - 301 }),
      future: await entra.hint(ENTRA_CLIENT, { oid: user.oid, sub: user.sub, iat: now + 600 }),
      tenant: await entra.hint(ENTRA_CLIENT, { oid: user.oid, sub: user.sub, tid: '00000000-0000-0000-0000-00000000beef' }),
      issuer: await entra.hint(ENTRA_CLIENT, { oid: user.oid, sub: user.sub, iss: `https://login.evil.example/${EntraStandIn.tenant}/v2.0` }),
      issuerTemplate: await entra.hint(ENTRA_CLIENT, { oid: user.oid, sub: user.sub, iss: 'https://login.microsoftonline.com/{tenantid}/v2.0' }),
      audience: await entra.hint(ENTRA_CLIENT, { oid: user.oid, sub: user.sub, aud: 'another-app' }),
      signature: await entra.hint(ENTRA_CLIENT, { oid: user.oid, sub: user.sub, forge: true }),
      garbage: 'not.a.jwt',
      // alg none, and HS256 keyed with Entra's public key (algorithm confusion), under the real kid.
      none: `${b64({ alg: 'none', kid: kidOf(await entra.hint(ENTRA_CLIENT)) })}.${b64({ ...claimsOf(await entra.hint(ENTRA_CLIENT, { oid: user.oid, sub: user.sub })) })}.`,
      hs256: await new SignJWT(claimsOf(await entra.hint(ENTRA_CLIENT, { oid: user.oid, sub: user.sub })))
        .setProtectedHeader({ alg: 'HS256', kid: kidOf(await entra.hint(ENTRA_CLIENT)) })
        .sign(new TextEncoder().encode(JSON.stringify(await (await fetch(entra.keysUrl)).json()))),
      // Past the hint's own cap (16 KB), under the authorization request's (24 KB: a larger request is the edge's 400).
      oversized: await entra.hint(ENTRA_CLIENT, { oid: user.oid, sub: user.sub, preferred_username: 'x'.repeat(14_000) }),
    };
    for (const [what, hint] of Object.entries(bad)) {
      const reply = await refusedWith(entra.authorizeFields(ENTRA_CLIENT, hint));
      expect([what, reply.error_description]).toEqual([what, expect.stringContaining('id_token_hint refused')]);
    }
    // No hint at all.
    const { id_token_hint: _h, ...noHint } = entra.authorizeFields(ENTRA_CLIENT, 'x');
    await refusedWith(noHint);
    expect((await auditEvents(w, 'signin.upstream.refused')).map((e) => e.detail.reason)).toEqual(
      expect.arrayContaining(['stale', 'future', 'tenant', 'issuer', 'audience', 'signature', 'malformed', 'missing', 'algorithm']));
  });

  it('a hint works once: replayed, or raced in parallel, exactly one sign-in starts', async () => {
    const user = await person();
    const hint = await entra.hint(ENTRA_CLIENT, { oid: user.oid, sub: user.sub });
    const first = await entraAuthorize(w, entra.authorizeFields(ENTRA_CLIENT, hint));
    expect(first.page.url).toMatch(/\/second-factor$/);
    const again = await refusedWith(entra.authorizeFields(ENTRA_CLIENT, hint));
    expect(again.error_description).toContain('already used');
    // Red-team: the signature spelled otherwise (the spare bits of its last base64url character)
    // verifies alike; it is the same hint, and refused as one.
    const [head, body, sig] = hint.split('.') as [string, string, string];
    const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const at = ALPHABET.indexOf(sig.at(-1)!);
    for (const d of [1, 2, 3]) {
      const respelled = `${head}.${body}.${sig.slice(0, -1)}${ALPHABET[(at & ~3) | ((at + d) & 3)]}`;
      const reply = await refusedWith(entra.authorizeFields(ENTRA_CLIENT, respelled));
      expect([d, reply.error_description]).toEqual([d, expect.stringMatching(/already used|id_token_hint refused/)]);
    }

    // Another hint (RS256 is deterministic: the same claims would sign to the same token).
    const raced = await entra.hint(ENTRA_CLIENT, { oid: user.oid, sub: user.sub, iat: Math.floor(clock.now() / 1000) - 5 });
    const results = await Promise.all(Array.from({ length: 8 }, () => entraAuthorize(w, entra.authorizeFields(ENTRA_CLIENT, raced))));
    expect(results.filter((r) => r.page.url.endsWith('/second-factor'))).toHaveLength(1);
    expect(results.filter((r) => r.page.body.includes('already used'))).toHaveLength(7);
  });

  // Red-team (broker round): the interaction page loaded twice at once in the user's own browser (a
  // reload, a prefetch) ran the hint twice; the second was taken for a replay and ended the user's
  // sign-in with access_denied. Now it follows the first to the second factor.
  it('the page loaded several times at once in the same browser: one sign-in, none refused, and it finishes', async () => {
    const user = await person({ push: false });
    const hint = await entra.hint(ENTRA_CLIENT, { oid: user.oid, sub: user.sub, iat: Math.floor(clock.now() / 1000) - 7 });
    const browser = new FormBrowser(w.t.url);
    const start = await browser.request('/auth', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(entra.authorizeFields(ENTRA_CLIENT, hint)).toString() });
    const loc = start.headers.get('location')!;
    const pages = await Promise.all(Array.from({ length: 6 }, () => browser.go(loc)));
    expect(pages.map((p) => p.url.replace(w.t.url, ''))).toEqual(Array(6).fill(`${new URL(loc, w.t.url).pathname}/second-factor`));
    expect((await auditEvents(w, 'signin.upstream')).filter((e) => e.account_id === user.accountId)).toHaveLength(1);
    const uid = new URL(loc, w.t.url).pathname.split('/')[2]!;
    const form = await browser.go(`/interaction/${uid}/passcode`);
    const done = await browser.submit(form.body, /\/passcode$/, { passcode: user.phone.currentTotp() });
    expect(replyOf(done, entra).id_token).toBeTruthy();
    // Another browser with the same hint is still a replay.
    expect((await refusedWith(entra.authorizeFields(ENTRA_CLIENT, hint))).error_description).toContain('already used');
  });

  // Red-team (round 3): a reload that gave up waiting told Entra access_denied while the first
  // request, slowed down, went on to ring the phone. Within 10 s of the first use nothing is ended.
  it('a reload while the first load may still be under way says "try again in a moment" and ends nothing', async () => {
    const hint = await entra.hint(ENTRA_CLIENT, { oid: randomUUID(), sub: `pairwise-${randomUUID()}`, iat: Math.floor(clock.now() / 1000) - 9 });
    const browser = new FormBrowser(w.t.url);
    const start = await browser.request('/auth', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(entra.authorizeFields(ENTRA_CLIENT, hint)).toString() });
    const loc = start.headers.get('location')!;
    const first = await browser.go(loc); // an unknown user: a page that says so, and no sign-in state
    expect(first.res.status).toBe(403);
    const again = await browser.request(loc, { headers: { accept: 'text/html' } });
    expect(again.status).toBe(503);
    const body = await again.text();
    expect(body).toContain('Try again in a moment');
    expect(body).not.toContain(entra.replyUrl);
  });

  it('an acr or amr this IdP cannot honour is refused before any push', async () => {
    const user = await person();
    const { subscription } = user;
    for (const claims of [
      { id_token: { acr: { essential: true, values: ['knowledge', 'inherence', 'knowledgeorinherence'] }, amr: ENTRA_ACR_CLAIMS.id_token.amr } },
      { id_token: { acr: ENTRA_ACR_CLAIMS.id_token.acr, amr: { essential: true, values: ['face', 'fpt'] } } },
    ]) {
      const reply = await refusedWith(entra.authorizeFields(ENTRA_CLIENT, await entra.hint(ENTRA_CLIENT, { oid: user.oid, sub: user.sub }), { claims }));
      expect(reply.error_description).toMatch(/cannot be satisfied/);
    }
    expect(w.pushService.messages.filter((m) => m.subscriptionId === subscription!.id)).toHaveLength(0);
  });

  it('Entra rolls its keys: a hint under a new kid fetches the JWKS again', async () => {
    const user = await person();
    const before = entra.jwksFetches;
    await entra.rotate();
    clock.advance(11_000); // past the refetch pause (an unknown kid refetches at most every 10 s)
    const { page } = await entraAuthorize(w, entra.authorizeFields(ENTRA_CLIENT, await entra.hint(ENTRA_CLIENT, { oid: user.oid, sub: user.sub })));
    expect(page.url).toMatch(/\/second-factor$/);
    expect(entra.jwksFetches).toBe(before + 1);
  });

  it('a POSTed authorize request with parameters in both query and form, or a NUL byte, gets a plain 400', async () => {
    const fields = entra.authorizeFields(ENTRA_CLIENT, 'x');
    const both = await fetch(`${w.t.url}/auth?client_id=${ENTRA_CLIENT}`, {
      method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString(),
    });
    expect(both.status).toBe(400);
    const nul = await fetch(`${w.t.url}/auth`, {
      method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `${new URLSearchParams(fields).toString()}&state=a%00b`,
    });
    expect(nul.status).toBe(400);
  });

  it('Entra\'s keys out of reach: temporarily_unavailable', async () => {
    const fields = entra.authorizeFields('entra-keys-down', await entra.hint('entra-keys-down'));
    await refusedWith(fields, 'temporarily_unavailable');
  });

  it('a password typed into the Entra app\'s sign-in (a first factor of ours, not Entra\'s) is access_denied at once', async () => {
    const user = await person({ push: false });
    const { browser, uid } = await entraAuthorize(w, entra.authorizeFields(ENTRA_CLIENT, await entra.hint(ENTRA_CLIENT, { oid: user.oid, sub: user.sub })));
    const choice = await browser.go(`/interaction/${uid}/second-factor`);
    const csrf = choice.body.match(/name="csrf" value="([^"]+)"/)![1]!;
    // Posted straight to the password handler, with the user's own right password.
    const next = await browser.go(`/interaction/${uid}/login`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf, username: user.username, password: PushWorld.password }).toString(),
    });
    expect(replyOf(next, entra)).toMatchObject({ error: 'access_denied' });
  });
});
