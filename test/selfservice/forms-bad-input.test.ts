import { hashPassword } from '../../src/accounts/passwords.js';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PushWorld, RP_CALLBACK } from '../support/push-world.js';
import { FormBrowser } from '../support/web-browser.js';

/**
 * The browser forms are checked by schemas (src/http/form.ts): a field sent twice, nested or too
 * long is a 400 page saying which, a token sent twice is a 403; never a 500, and nothing changes.
 */
describe('browser forms with malformed fields', () => {
  let w: PushWorld;
  beforeAll(async () => { w = await PushWorld.start({ idp: { storage: 'postgres' } }); });
  afterAll(() => w.close());

  const post = (browser: FormBrowser, path: string, body: string) =>
    browser.request(path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });

  it('the account page: a name sent twice is a 400 page, a CSRF token sent twice a 403', async () => {
    // A user of their own with no phone: the password alone keeps this page open.
    await w.t.idp.accounts.create({ username: 'carol', passwordHash: await hashPassword(PushWorld.password) });
    const browser = new FormBrowser(w.t.url);
    const login = await browser.go('/account');
    const page = await browser.submit(login.body, /\/login$/, { username: 'carol', password: PushWorld.password });
    const csrf = page.body.match(/name="csrf" value="([^"]+)"/)![1]!;
    const phone = { deviceId: 'dev_x' };

    const twice = await post(browser, `/account/devices/${phone.deviceId}/rename`, `csrf=${csrf}&name=a&name=b`);
    expect(twice.status).toBe(400);
    expect(twice.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await twice.text()).toContain('Give the device a name.');
    const nested = await post(browser, `/account/devices/${phone.deviceId}/rename`, `csrf=${csrf}&name[x]=a`);
    expect(nested.status).toBe(400);
    const forged = await post(browser, `/account/devices/${phone.deviceId}/rename`, `csrf=${csrf}&csrf=${csrf}&name=Mine`);
    expect(forged.status).toBe(403);
    // Still signed in: the page and its session survived the bad forms.
    expect((await browser.go('/account')).body).toContain('You have no authenticator yet');
  });

  it('the account page answers bad forms in the user\'s language: a bad name, a device not theirs, an expired form', async () => {
    await w.t.idp.accounts.create({ username: 'dora', passwordHash: await hashPassword(PushWorld.password) });
    const browser = new FormBrowser(w.t.url);
    const login = await browser.go('/account');
    const page = await browser.submit(login.body, /\/login$/, { username: 'dora', password: PushWorld.password });
    const csrf = page.body.match(/name="csrf" value="([^"]+)"/)![1]!;
    const inGerman = (path: string, body: string) =>
      browser.request(path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'accept-language': 'de-DE,de;q=0.9,en;q=0.5' }, body });
    const said = async (res: Response) => ({ status: res.status, text: await res.text() });

    const twice = await said(await inGerman('/account/devices/dev_x/rename', `csrf=${csrf}&name=a&name=b`));
    expect(twice.status).toBe(400);
    expect(twice.text).toContain('<html lang="de">');
    expect(twice.text).toContain('Geben Sie dem Gerät einen Namen.');
    const long = await said(await inGerman('/account/devices/dev_x/rename', `csrf=${csrf}&name=${'x'.repeat(65)}`));
    expect(long.status).toBe(400);
    expect(long.text).toContain('Ein Gerätename hat 1 bis 64 Zeichen und keine Steuerzeichen.');
    const notTheirs = await said(await inGerman('/account/devices/dev_x/rename', `csrf=${csrf}&name=Mine`));
    expect(notTheirs.status).toBe(404);
    expect(notTheirs.text).toContain('Ihr Konto hat kein solches Gerät.');
    const expired = await said(await inGerman('/account/devices/dev_x/rename', `csrf=stale&name=Mine`));
    expect(expired.status).toBe(403);
    expect(expired.text).toContain('Das Formular ist abgelaufen. Laden Sie die Seite neu und versuchen Sie es erneut.');
    // The same refusal in English for a browser that asks for it.
    const english = await post(browser, '/account/devices/dev_x/rename', `csrf=${csrf}&name=${'x'.repeat(65)}`);
    expect(english.status).toBe(400);
    expect(await english.text()).toContain('A device name has 1 to 64 characters and no control characters.');
    // The page itself, in German, and the session survived.
    const account = await browser.request('/account', { headers: { 'accept-language': 'de' } });
    const body = await account.text();
    expect(body).toContain('<html lang="de">');
    expect(body).toContain('Sie haben noch keinen Authenticator.');
    expect(body).toContain('Authenticator hinzufügen');
  });

  it('the sign-in pages: a username, passcode or recovery code that is not one text is a 400 page naming it', async () => {
    const { phone } = await w.enrollPhone({ push: false });
    const start = await w.startSignIn({ username: 'alice' });
    expect(start.next.url).toMatch(/\/second-factor$/);
    const passcodePage = await start.browser.go(`/interaction/${start.uid}/passcode`);
    const csrf = passcodePage.body.match(/name="csrf" value="([^"]+)"/)![1]!;

    const passcodes = await post(start.browser, `/interaction/${start.uid}/passcode`, `csrf=${csrf}&passcode=123456&passcode=654321`);
    expect(passcodes.status).toBe(400);
    expect(await passcodes.text()).toContain('The passcode must be text of 6 or 8 digits.');
    const longOne = await post(start.browser, `/interaction/${start.uid}/passcode`, `csrf=${csrf}&passcode=${'1'.repeat(17)}`);
    expect(longOne.status).toBe(400);
    const codes = await post(start.browser, `/interaction/${start.uid}/recovery`, `csrf=${csrf}&code[a]=x`);
    expect(codes.status).toBe(400);
    expect(await codes.text()).toContain('The recovery code must be text of 16 letters and digits.');

    // The sign-in is untouched: the right passcode still finishes it.
    const done = await start.browser.submit(passcodePage.body, /\/passcode$/, { passcode: phone.currentTotp() });
    expect(done.url.startsWith(`${RP_CALLBACK}?`)).toBe(true);
    expect(new URL(done.url).searchParams.get('code')).toBeTruthy();
  });

  it('the login form: a nested username is a 400 page that says so', async () => {
    const browser = new FormBrowser(w.t.url);
    const login = await browser.go('/account');
    const action = login.body.match(/action="([^"]*\/login)"/)![1]!;
    const csrf = login.body.match(/name="csrf" value="([^"]+)"/)![1]!;
    const res = await post(browser, action, `csrf=${csrf}&username[0]=alice&password=x`);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('The field &quot;username&quot; must be text.');
  });
});
