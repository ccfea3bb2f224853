import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { hashPassword } from '../../src/accounts/passwords.js';
import { EntraStandIn, formPostFields } from '../support/entra-standin.js';
import { startTestIdp, testRp, type TestIdp } from '../support/idp.js';
import { FormBrowser } from '../support/web-browser.js';
import type { PushWorld } from '../support/push-world.js';
import { addUser, enroll, startWorld } from '../signin/helpers.js';
import { ENTRA_CLIENT, entraAuthorize, entraClientFile, linkedEntraUser } from '../entra/helpers.js';
import { GENERIC, passwordAndPush, postedForm, startSamlWorld, xmlOf, type SamlWorld } from '../saml/world.js';

/**
 * Red-team (end of access across doors): a disable or a sign-out everywhere landing after a door's
 * last check of the end of sessions, before the door hands out what the sign-in bought. A code is
 * checked again at its exchange; these doors have no exchange after them:
 * - an ID token the authorization endpoint sends itself (response_type id_token; Entra's external
 *   MFA by form_post): the end was checked as the resume read the finished sign-in
 *   (oidc/held-results.ts) and not again, so a disabled account's ID token went out;
 * - SAML's finish: the code's exchange checked the end, the assertion was signed after it.
 * Each is forced here at the exact moment, as test/security/resume-end-window.test.ts forces the
 * resume's own window.
 */
type FindHook = { Interaction: { find(...a: unknown[]): Promise<{ result?: { login?: { accountId?: string } } } | undefined> } };

/** Runs `end` once, right after the resume's check of the finished sign-in of `accountId` passed. */
function endAfterResumeCheck(t: TestIdp, accountId: string, end: () => Promise<void>) {
  const provider = t.idp.provider as unknown as FindHook;
  const checked = provider.Interaction.find.bind(provider.Interaction);
  const state = { landed: false };
  provider.Interaction.find = async (...args: unknown[]) => {
    const found = await checked(...args);
    if (!state.landed && found?.result?.login?.accountId === accountId) {
      state.landed = true;
      await end();
    }
    return found;
  };
  return { state, restore: () => { provider.Interaction.find = checked; } };
}

const ends = (t: TestIdp, accountId: string) => ({
  disable: async () => { await t.idp.accounts.setDisabled(accountId, true); await t.idp.endAccountSessions(accountId); },
  'sign-out': async () => { await t.idp.endAccountSessions(accountId); },
});

describe('response_type id_token: an end after the resume\'s check', () => {
  let t: TestIdp;
  const PASSWORD = 'front channel test password 1';
  beforeAll(async () => {
    t = await startTestIdp({
      storage: 'postgres', redis: 'real',
      clients: [testRp({ response_types: ['id_token'], grant_types: ['implicit'], redirect_uris: ['https://app.example/cb'], post_logout_redirect_uris: ['https://app.example/bye'], login: { consent: 'implicit', noDevice: 'password-only' } })],
    });
  }, 60_000);
  afterAll(() => t.close());

  const signIn = async (username: string) => {
    const browser = new FormBrowser(t.url);
    const q = new URLSearchParams({ client_id: 'test-rp', redirect_uri: 'https://app.example/cb', response_type: 'id_token', scope: 'openid', nonce: 'n-1', state: 's-1' });
    const login = await browser.go(`/auth?${q}`);
    expect(login.body).toContain('name="password"');
    return browser.submit(login.body, /\/login$/, { username, password: PASSWORD });
  };

  for (const how of ['disable', 'sign-out'] as const) it(`\`${how}\` landing there: the app gets an error in the fragment, no ID token`, async () => {
    const username = `fc-${how}-${randomBytes(3).toString('hex')}`;
    const id = (await t.idp.accounts.create({ username, passwordHash: await hashPassword(PASSWORD) })).id;
    const hook = endAfterResumeCheck(t, id, ends(t, id)[how]);
    try {
      const back = await signIn(username);
      expect(hook.state.landed).toBe(true);
      const fragment = new URLSearchParams(new URL(back.url).hash.slice(1));
      expect({ idToken: fragment.get('id_token'), error: fragment.get('error'), state: fragment.get('state') })
        .toEqual({ idToken: null, error: how === 'disable' ? 'access_denied' : 'login_required', state: 's-1' });
    } finally {
      hook.restore();
    }
  });

  it('with no end, the same sign-in gets its ID token (the check does not refuse a live account)', async () => {
    const username = `fc-live-${randomBytes(3).toString('hex')}`;
    await t.idp.accounts.create({ username, passwordHash: await hashPassword(PASSWORD) });
    const back = await signIn(username);
    expect(new URLSearchParams(new URL(back.url).hash.slice(1)).get('id_token')).toMatch(/^ey/);
  });
});

describe('Entra external MFA: an end after the resume\'s check', () => {
  let entra: EntraStandIn;
  let w: PushWorld;
  beforeAll(async () => {
    entra = await EntraStandIn.start();
    w = await startWorld({ clients: [entraClientFile(entra)] });
  }, 60_000);
  afterAll(async () => { await w.close(); await entra.close(); });

  for (const how of ['disable', 'sign-out'] as const) it(`\`${how}\` landing there: Entra is posted an error, no ID token`, async () => {
    const accountId = await addUser(w, `entra-end-${how}-${randomBytes(3).toString('hex')}`);
    const { phone } = await enroll(w, { accountId, push: false });
    const user = await linkedEntraUser(w, accountId);
    const { browser, uid } = await entraAuthorize(w, entra.authorizeFields(ENTRA_CLIENT, await entra.hint(ENTRA_CLIENT, { oid: user.oid, sub: user.sub })));
    const hook = endAfterResumeCheck(w.t, accountId, ends(w.t, accountId)[how]);
    try {
      const form = await browser.go(`/interaction/${uid}/passcode`);
      const done = await browser.submit(form.body, /\/passcode$/, { passcode: phone.currentTotp() });
      expect(hook.state.landed).toBe(true);
      const { action, fields } = formPostFields(done.body);
      expect(action).toBe(entra.replyUrl);
      expect({ idToken: fields.id_token, error: fields.error }).toEqual({ idToken: undefined, error: how === 'disable' ? 'access_denied' : 'login_required' });
    } finally {
      hook.restore();
    }
  });
});

describe('SAML: an end after the code\'s exchange, before the assertion', () => {
  let s: SamlWorld;
  beforeAll(async () => { s = await startSamlWorld(); }, 60_000);
  afterAll(() => s.close());

  for (const how of ['disable', 'sign-out'] as const) it(`\`${how}\` landing there: the SP gets AuthnFailed, no assertion`, async () => {
    const username = `saml-end-${how}-${randomBytes(3).toString('hex')}`;
    const accountId = await addUser(s.w, username);
    const t = s.w.t;
    // The end runs at the first read of the account after the SAML finish exchanged its code.
    let armed = false;
    let landed = false;
    const onGrant = (ctx: { oidc?: { client?: { clientId?: string } } }) => { if (ctx.oidc?.client?.clientId === 'saml.generic') armed = true; };
    t.idp.provider.on('grant.success', onGrant);
    const findById = t.idp.accounts.findById.bind(t.idp.accounts);
    t.idp.accounts.findById = async (id: string) => {
      if (armed && !landed && id === accountId) {
        landed = true;
        await ends(t, accountId)[how]();
      }
      return findById(id);
    };
    try {
      const b = new FormBrowser(t.url);
      const done = await passwordAndPush(s, b, await b.go(await s.generic().getAuthorizeUrlAsync('r1', undefined, {})), username, accountId);
      expect(landed).toBe(true);
      const { action, fields } = postedForm(done.body);
      expect(action).toBe(GENERIC.acs);
      const xml = xmlOf(fields.SAMLResponse!);
      expect(xml).toContain('urn:oasis:names:tc:SAML:2.0:status:AuthnFailed');
      expect(xml).not.toContain('<saml:Assertion');
    } finally {
      t.idp.accounts.findById = findById;
      t.idp.provider.off('grant.success', onGrant);
    }
  });
});
