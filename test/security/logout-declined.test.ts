import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { hashPassword } from '../../src/accounts/passwords.js';
import { PushWorld } from '../support/push-world.js';
import { FormBrowser } from '../support/web-browser.js';

/**
 * The sign-out page's "No, stay signed in" (RP-Initiated Logout: the OP asks first) ended on a page
 * saying "You have signed out" while the session lived on (red-team, pages: on a shared computer a
 * user who pressed the wrong button walks away believing they are signed out), and a link to
 * /session/end/success told anyone "You have signed out of <app>". The page now says which it is.
 */
describe('the sign-out page: no, then yes', () => {
  let w: PushWorld;
  beforeAll(async () => { w = await PushWorld.start({ login: { noDevice: 'password-only' } }); }, 60_000);
  afterAll(() => w.close());

  const signedIn = async (b: FormBrowser) => {
    const login = await b.go('/account');
    const inside = await b.submit(login.body, /\/login$/, { username: 'stayer', password: PushWorld.password });
    expect(inside.url).toBe(`${w.t.url}/account`);
  };
  const h1 = (html: string) => /<h1>([^<]*)<\/h1>/.exec(html)?.[1];

  it('"No, stay signed in" says still signed in, and the session works; "Yes" says signed out, and it does not', async () => {
    await w.t.idp.accounts.create({ username: 'stayer', passwordHash: await hashPassword(PushWorld.password) });
    const b = new FormBrowser(w.t.url);
    await signedIn(b);

    const declined = await b.submit((await b.go('/session/end')).body, /\/session\/end\/confirm$/, {});
    expect(declined.url).toBe(`${w.t.url}/session/end/success`);
    expect(h1(declined.body)).toBe('Still signed in');
    expect(declined.body).not.toContain('You have signed out');
    expect((await b.go('/account')).url).toBe(`${w.t.url}/account`); // the session lives

    // A link straight to the success page does not claim a sign-out either.
    expect(h1((await b.go('/session/end/success?client_id=test-rp')).body)).toBe('Still signed in');

    const done = await b.submit((await b.go('/session/end')).body, /\/session\/end\/confirm$/, { logout: 'yes' });
    expect(h1(done.body)).toBe('Signed out');
    expect(done.body).toContain('You have signed out');
    expect((await b.go('/account')).body).toContain('name="password"'); // asked to sign in again

    // A browser that never signed in is told it is signed out.
    expect(h1((await new FormBrowser(w.t.url).go('/session/end/success')).body)).toBe('Signed out');
  }, 60_000);
});
