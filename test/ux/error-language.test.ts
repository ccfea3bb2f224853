import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { PushWorld, RP_CALLBACK } from '../support/push-world.js';
import { FormBrowser } from '../support/web-browser.js';

/**
 * Error pages in the user's language. Before: a German user saw the sign-in core's refusals
 * ("Sign in with your password first..."), oidc-provider's page ("Something went wrong" over its
 * English description) and a SAML refusal in English inside a German page. Now every sentence the
 * user reads is theirs; a message written for an app's developers (oidc-provider's, a SAML
 * request's, the edge's) is kept below as the detail, marked as English.
 */
const GERMAN = { 'accept-language': 'de-DE,de;q=0.9,en;q=0.5' };
const ENGLISH = { 'accept-language': 'en-GB,en;q=0.9' };

describe('error pages in the user\'s language', () => {
  let w: PushWorld;
  beforeAll(async () => { w = await PushWorld.start({ idp: { storage: 'postgres' } }); });
  afterAll(() => w.close());

  const page = async (res: Response) => ({ status: res.status, html: await res.text() });
  const lead = (html: string) => html.match(/id="error-description">([^<]*)</)?.[1] ?? '';
  const detail = (html: string) => html.match(/id="error-detail">[^<]*<span lang="en">([^<]*)</)?.[1] ?? null;

  it('oidc-provider\'s refusal (an unknown client): German heading and lead, its English description as the detail', async () => {
    const path = `/auth?client_id=nobody&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(RP_CALLBACK)}`;
    const de = await page(await new FormBrowser(w.t.url).request(path, { headers: GERMAN }));
    expect(de.status).toBe(400);
    expect(de.html).toContain('<html lang="de">');
    expect(de.html).toContain('<h1>Das hat nicht geklappt</h1>');
    expect(lead(de.html)).toBe('Die Anfrage konnte so, wie sie gesendet wurde, nicht bearbeitet werden. Gehen Sie zurück zur App, von der Sie kamen, und beginnen Sie erneut.');
    expect(detail(de.html)).toMatch(/client/i);
    expect(de.html).toContain('<code>invalid_client</code>');
    expect(de.html).not.toContain('Something went wrong');

    // In English the description itself leads, as before, and there is no detail line.
    const en = await page(await new FormBrowser(w.t.url).request(path, { headers: ENGLISH }));
    expect(en.status).toBe(400);
    expect(lead(en.html)).toBe(detail(de.html));
    expect(detail(en.html)).toBeNull();
  });

  it('the sign-in core\'s refusal (the phone\'s page before the password): in German, no English', async () => {
    const browser = new FormBrowser(w.t.url);
    const url = oidc.buildAuthorizationUrl(w.rp, {
      redirect_uri: RP_CALLBACK, scope: 'openid', state: oidc.randomState(),
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256',
    });
    const login = await browser.go(url.href, { headers: GERMAN });
    const uid = login.url.match(/\/interaction\/([^/?]+)/)![1]!;
    const early = await page(await browser.request(`/interaction/${uid}/second-factor`, { headers: GERMAN }));
    expect(early.status).toBe(400);
    expect(lead(early.html)).toBe('Melden Sie sich zuerst mit Ihrem Passwort an. Gehen Sie zurück zur App und beginnen Sie erneut.');
    expect(detail(early.html)).toBeNull();
    // The same refusal in English reads as it did.
    expect(lead((await page(await browser.request(`/interaction/${uid}/second-factor`, { headers: ENGLISH }))).html))
      .toBe('Sign in with your password first. Go back to the app and start again.');
  });

  it('a refused SAML request and a bad form: a German lead, the English reason as the detail', async () => {
    const saml = await page(await new FormBrowser(w.t.url).request('/saml/sso?SAMLRequest=%25%25%25', { headers: GERMAN }));
    expect(saml.status).toBe(400);
    expect(saml.html).toContain('<html lang="de">');
    expect(lead(saml.html)).toMatch(/^Die Anfrage konnte/);
    expect(detail(saml.html)).toBe('The SAML message could not be decoded (HTTP-Redirect takes base64 of DEFLATE).');

    const form = await page(await new FormBrowser(w.t.url).request('/interaction/abcdefghijkl/login', {
      method: 'POST', headers: { ...GERMAN, 'content-type': 'text/plain' }, body: 'x',
    }));
    expect(form.status).toBe(415);
    expect(lead(form.html)).toBe('Senden Sie das Formular als application/x-www-form-urlencoded.');
  });
});
