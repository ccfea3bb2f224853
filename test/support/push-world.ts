import * as oidc from 'openid-client';
import { hashPassword } from '../../src/accounts/passwords.js';
import { SimulatedAuthenticator } from './authenticator.js';
import { startTestIdp, testRp, TEST_RP_SECRET, type TestIdp, type TestIdpOptions } from './idp.js';
import { startPushService, type MintedSubscription, type PushServiceDouble } from './push-service.js';
import { FormBrowser } from './web-browser.js';

export const RP_CALLBACK = 'http://127.0.0.1:1/cb';

/**
 * A whole push sign-in world: the IdP, the local push-service double, a user with a password,
 * and openid-client as the relying app. Phones are added with `enrollPhone`.
 */
export class PushWorld {
  private constructor(
    readonly t: TestIdp,
    readonly pushService: PushServiceDouble,
    readonly rp: oidc.Configuration,
    readonly accountId: string,
  ) {}

  static readonly password = 'alice password 1';

  static async start(opts: { login?: Record<string, unknown>; idp?: TestIdpOptions; pushService?: PushServiceDouble; clients?: Record<string, unknown>[] } = {}): Promise<PushWorld> {
    const pushService = opts.pushService ?? (await startPushService());
    // The real PostgreSQL server unless a test asks for the embedded one: PGlite's start (a copied
    // cluster opened, the migrations run in WebAssembly) costs about 1.5 s of CPU against 0.2 s,
    // and some 150 worlds start in a run. PGlite keeps its own suites (the storage contracts, the
    // quickstart's lifecycle, a push sign-in end to end).
    const t = await startTestIdp({
      storage: 'postgres',
      redis: 'real',
      ...opts.idp,
      env: { ...pushService.env(), ...opts.idp?.env },
      clients: [testRp({ login: { consent: 'implicit', ...opts.login } }), ...(opts.clients ?? [])],
    });
    try {
      // A restarted world (same database) finds alice already there.
      const account = (await t.idp.accounts.findByUsername('alice'))
        ?? (await t.idp.accounts.create({ username: 'alice', displayName: 'Alice', passwordHash: await hashPassword(PushWorld.password) }));
      const rp = await oidc.discovery(new URL(t.url), 'test-rp', TEST_RP_SECRET, undefined, { execute: [oidc.allowInsecureRequests] });
      return new PushWorld(t, pushService, rp, account.id);
    } catch (err) {
      await t.close();
      if (!opts.pushService) await pushService.close();
      throw err;
    }
  }

  async enrollPhone(opts: { push?: boolean; name?: string } = {}): Promise<{ phone: SimulatedAuthenticator; subscription: MintedSubscription | null }> {
    const offer = await this.t.idp.deviceService.issueEnrollment(this.accountId, 'test');
    const subscription = opts.push === false ? null : this.pushService.createSubscription();
    const push = subscription ? { endpoint: subscription.endpoint, keys: subscription.keys } : null;
    const phone = await SimulatedAuthenticator.enroll(this.t.url, offer.code, { push, name: opts.name ?? 'Test phone' });
    return { phone, subscription };
  }

  /** Starts a sign-in at the relying app and submits the password; returns the browser on the next page. */
  async startSignIn(fields: Record<string, string> = {}, browser = new FormBrowser(this.t.url)) {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(this.rp, {
      redirect_uri: RP_CALLBACK, scope: 'openid', state,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    const login = await browser.go(url.href);
    const uid = login.url.match(/\/interaction\/([^/?]+)/)![1]!;
    const next = await browser.submit(login.body, /\/login$/, { username: 'alice', password: PushWorld.password, ...fields });
    return { browser, next, uid, verifier, state };
  }

  /** The relying app's side of the end: the code at the callback becomes tokens. */
  async tokens(callbackUrl: string, verifier: string, state: string) {
    return oidc.authorizationCodeGrant(this.rp, new URL(callbackUrl), { pkceCodeVerifier: verifier, expectedState: state });
  }

  async close() {
    await this.t.close();
    await this.pushService.close();
  }
}

export const matchNumberOf = (html: string): number | null => {
  const m = html.match(/id="match-number"[^>]*>(\d+)</);
  return m ? Number(m[1]) : null;
};
