import * as oidc from 'openid-client';
import { hashPassword } from '../../src/accounts/passwords.js';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import { startTestIdp, type TestIdp, type TestIdpOptions } from '../support/idp.js';
import { startPushService, type MintedSubscription, type PushServiceDouble } from '../support/push-service.js';

/** The secret both test CIBA clients share (set in the IdP's environment by startCibaWorld). */
export const CIBA_SECRET = 'ciba-client-secret-0123456789abcdef0123456789';
export const CIBA_GRANT = 'urn:openid:params:grant-type:ciba';
export const PASSWORD = 'ciba password 1';

/** A CIBA-only client file (docs/ciba.md), as an operator writes it. */
export function cibaClient(clientId: string, mode: 'poll' | 'ping', extra: Record<string, unknown> = {}) {
  return {
    client_id: clientId,
    client_name: 'Call Centre',
    client_secret_env: 'CIBA_SECRET',
    grant_types: [CIBA_GRANT],
    backchannel_token_delivery_mode: mode,
    scope: 'openid profile email',
    ...extra,
  };
}

export interface CibaUser {
  accountId: string;
  username: string;
  phone: SimulatedAuthenticator;
  subscription: MintedSubscription;
}

/**
 * An IdP (PostgreSQL and the real Redis) with a poll client, optionally a ping client, the
 * push-service double and users with phones; openid-client is the relying app.
 */
export class CibaWorld {
  private constructor(readonly t: TestIdp, readonly pushService: PushServiceDouble, private readonly ownsPush: boolean) {}

  static async start(opts: { pingEndpoint?: string; idp?: TestIdpOptions; pushService?: PushServiceDouble; env?: Record<string, string> } = {}): Promise<CibaWorld> {
    const pushService = opts.pushService ?? (await startPushService());
    const clients = [cibaClient('ciba-poll', 'poll')];
    if (opts.pingEndpoint) clients.push(cibaClient('ciba-ping', 'ping', { backchannel_client_notification_endpoint: opts.pingEndpoint }));
    const t = await startTestIdp({
      storage: 'postgres', redis: 'real', clients, ...opts.idp,
      env: { ...pushService.env(), CIBA_SECRET, CIBA_POLL_INTERVAL: '1', ...opts.env, ...opts.idp?.env },
    });
    return new CibaWorld(t, pushService, !opts.pushService);
  }

  /** openid-client configured as one of the CIBA clients. */
  async rp(clientId = 'ciba-poll', url = this.t.url): Promise<oidc.Configuration> {
    return oidc.discovery(new URL(url), clientId, undefined, oidc.ClientSecretBasic(CIBA_SECRET), { execute: [oidc.allowInsecureRequests] });
  }

  /** A user with a password, an e-mail address and (unless `phone: false`) an enrolled phone on push. */
  async user(username: string, opts: { email?: string } = {}): Promise<CibaUser> {
    const account = await this.t.idp.accounts.create({ username, displayName: username, email: opts.email ?? `${username}@example.test`, passwordHash: await hashPassword(PASSWORD) });
    const offer = await this.t.idp.deviceService.issueEnrollment(account.id, 'test');
    const subscription = this.pushService.createSubscription();
    const phone = await SimulatedAuthenticator.enroll(this.t.url, offer.code, { push: { endpoint: subscription.endpoint, keys: subscription.keys }, name: 'Phone' });
    return { accountId: account.id, username, phone, subscription };
  }

  /**
   * Another phone for the same account: each phone's answers use each TOTP step once, so a second
   * approval within 30 s comes from a second device rather than waiting for the next step.
   */
  async secondPhone(user: CibaUser): Promise<CibaUser> {
    const offer = await this.t.idp.deviceService.issueEnrollment(user.accountId, 'test');
    const subscription = this.pushService.createSubscription();
    const phone = await SimulatedAuthenticator.enroll(this.t.url, offer.code, { push: { endpoint: subscription.endpoint, keys: subscription.keys }, name: 'Tablet' });
    return { ...user, phone, subscription };
  }

  /** A raw POST to one of the IdP's endpoints as a CIBA client (for what openid-client will not send). */
  async post(path: string, form: Record<string, string>, opts: { clientId?: string; secret?: string; body?: string; contentType?: string } = {}) {
    const auth = Buffer.from(`${opts.clientId ?? 'ciba-poll'}:${opts.secret ?? CIBA_SECRET}`).toString('base64');
    const res = await fetch(`${this.t.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Basic ${auth}`, 'content-type': opts.contentType ?? 'application/x-www-form-urlencoded' },
      body: opts.body ?? new URLSearchParams(form).toString(),
    });
    const text = await res.text();
    let json: Record<string, unknown> | null = null;
    try { json = JSON.parse(text) as Record<string, unknown>; } catch { json = null; }
    return { status: res.status, json, text, headers: res.headers };
  }

  async close() {
    await this.t.close();
    if (this.ownsPush) await this.pushService.close();
  }
}

/** The ID token's payload, as the relying app reads it (already verified by openid-client). */
export function idClaims(tokens: { claims(): oidc.IDToken | undefined }): oidc.IDToken {
  const claims = tokens.claims();
  if (!claims) throw new Error('no ID token');
  return claims;
}
