import type { Context } from 'koa';
import type { Adapter } from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { Db } from '../storage/db.js';
import { createDeviceRegistry } from '../devices/registry.js';
import { sessionEndedBeforeItsSecond } from './session-policy.js';
import { ENDED } from './adapters.js';

/** oidc-provider's durable models that name the account they belong to (payload.accountId). */
const ACCOUNT_MODELS = ['Session', 'Grant', 'RefreshToken'];
/** A grant's short-lived artefacts (in Redis), found by grant id. */
const GRANT_ARTEFACTS = ['AccessToken', 'AuthorizationCode', 'BackchannelAuthenticationRequest'];

export interface EndedSessions {
  sessions: number; grants: number; refreshTokens: number;
  /** Unused enrollment codes /account had issued, now void. */
  enrollmentCodes: number;
  /** Devices /account had enrolled and their phones never confirmed, now revoked. */
  pendingDevices: string[];
  /** Push requests of sign-ins begun before the end, still pending on the phones, now withdrawn. */
  pushes: number;
}
/** `keepDevice`: a device enrolled just now by the caller (the first enrollment that voided a planted phone). */
export type EndAccountSessions = (accountId: string, opts?: { keepDevice?: string }) => Promise<EndedSessions>;

/**
 * Ends everything an account is signed in with: its SSO sessions (so every browser signs in
 * again; the self-service page's session lives inside one), its grants and refresh tokens, and
 * the grants' access tokens and codes. A new password, a disabled account, a revoked device and
 * "sign out everywhere" all call it (NIST SP 800-63B 6.1.2.1: what an authenticator vouched
 * for ends with it). Rows are found by account and grant id, never by artefact id (the adapter
 * may store those hashed). `artefacts` is null where the short-lived store is out of reach (the
 * CLI beside an in-process Redis): those die anyway, as userinfo and introspection need the grant.
 */
export function createEndAccountSessions(
  db: Db, artefacts: ((model: string) => Adapter) | null, now: () => number = Date.now,
  /** Withdraws the account's pushes begun by then (signin/resolution.ts withdrawEndedPushes); null where Redis is out of reach. */
  withdrawPushes: ((accountId: string, endedAt: number) => Promise<number>) | null = null,
): EndAccountSessions {
  return async (accountId, opts = {}) => {
    // First the mark, then the rows: a session that a request in flight saves back after the
    // delete began before the mark, and the login check refuses it (sessionEndedSince).
    const at = new Date(now());
    // Never back: of two ends at once, the later one's mark stands, whichever commits last; but a mark
    // more than a minute ahead of this end was written by a clock that ran ahead (the admin CLI on
    // another host), and would refuse every sign-in until then: this end replaces it.
    await db.query(`UPDATE accounts SET sessions_ended_at = CASE
        WHEN sessions_ended_at IS NULL OR sessions_ended_at < $2 OR sessions_ended_at > $2::timestamptz + interval '1 minute' THEN $2
        ELSE sessions_ended_at END
      WHERE id = $1`, [accountId, at]);
    // What the account's sessions started at /account ends with them (red-team: a code a stolen
    // password took before the owner's first phone, or a phone it enrolled and left unconfirmed,
    // outlived a new password and a sign-out everywhere). A code issued in flight was issued under
    // the account's row lock before the mark (voided here) or refused after it (devices/issue.ts).
    const codes = await db.query('UPDATE enrollment_codes SET used_at = $2 WHERE account_id = $1 AND used_at IS NULL AND created_by LIKE \'self:%\' RETURNING 1', [accountId, at]);
    const pendingDevices = await createDeviceRegistry(db).revokePending(accountId, opts.keepDevice ?? '');
    const deleted = await db.query<{ model: string; grant_id: string | null; payload: Record<string, unknown>; ended: boolean }>(
      `DELETE FROM oidc_payloads WHERE model = ANY($1) AND payload->>'accountId' = $2 RETURNING model, grant_id, payload, (model = 'Session' AND consumed_at IS NOT NULL) AS ended`,
      [ACCOUNT_MODELS, accountId]);
    // A session ended already (a sign-out: its row is kept, marked, adapters.ts) is not counted again.
    const rows = deleted.filter((r) => !r.ended);
    const grantIds = new Set<string>();
    for (const { model, grant_id, payload } of rows) {
      if (grant_id) grantIds.add(grant_id);
      if (model === 'Grant' && typeof payload.jti === 'string') grantIds.add(payload.jti);
      const authorizations = (model === 'Session' ? payload.authorizations : null) as Record<string, { grantId?: unknown }> | null;
      for (const a of Object.values(authorizations ?? {})) if (typeof a.grantId === 'string') grantIds.add(a.grantId);
    }
    if (artefacts) {
      for (const grantId of grantIds) for (const model of GRANT_ARTEFACTS) await artefacts(model).revokeByGrantId(grantId);
    }
    // The pushes of sign-ins begun before the mark: their phones stop listing them and their doors
    // end those sign-ins (each would be refused at its finish anyway: signin/finish.ts).
    const pushes = withdrawPushes ? await withdrawPushes(accountId, at.getTime()) : 0;
    const count = (model: string) => rows.filter((r) => r.model === model).length;
    return { sessions: count('Session'), grants: count('Grant'), refreshTokens: count('RefreshToken'), enrollmentCodes: codes.length, pendingDevices, pushes };
  };
}

/** When the account's sessions were last ended (ms since the epoch), or null. */
export async function sessionsEndedAt(db: Db, accountId: string): Promise<number | null> {
  const [row] = await db.query<{ at: Date | string | null }>('SELECT sessions_ended_at AS at FROM accounts WHERE id = $1', [accountId]);
  return row?.at ? new Date(row.at).getTime() : null;
}

/** The IdP's SSO session as another part of the IdP (the self-service page) sees it. */
export interface IdpSession {
  uid: string; accountId: string; loginTs: number | undefined; amr: string[] | undefined;
  /** The clients (OIDC apps, SAML's internal clients `saml.<sp>`, /account's) the session signed in to. */
  clients: string[];
}

export interface IdpSessions {
  /** The session this browser's SSO cookie names, if it is alive. */
  current(ctx: Context): Promise<IdpSession | null>;
  /** A live session by its stable uid (its id changes at each sign-in). */
  find(uid: string): Promise<IdpSession | null>;
  /** Ends that session (the enrollment codes /account issued in it end with it: devices/enrollment-codes.ts), and clears this browser's SSO cookie. */
  end(ctx: Context, uid: string): Promise<void>;
  /**
   * Whether this browser's SSO session is the very one an authorization code was issued in (its
   * uid, not just its account): a part of the IdP that signs in as a relying app (/account, SAML)
   * finishes only in the browser whose session made the code.
   */
  issuedHere(ctx: Context, code: string): Promise<boolean>;
}

export function createIdpSessions(provider: Provider, db: Db): IdpSessions {
  const cookie = provider.cookieName('session');
  /** A live session: stored, and not begun before its account's sessions were ended. */
  const live = async (s: InstanceType<Provider['Session']> | undefined): Promise<IdpSession | null> => {
    if (!s?.accountId || sessionEndedBeforeItsSecond(s.loginTs, await sessionsEndedAt(db, s.accountId))) return null;
    return { uid: s.uid, accountId: s.accountId, loginTs: s.loginTs, amr: s.amr, clients: Object.keys(s.authorizations ?? {}) };
  };
  return {
    async current(ctx) {
      // The parent app signs cookies with oidc-provider's keys (app.ts), so this reads its cookie.
      const id = ctx.cookies.get(cookie, { signed: true });
      return id ? live(await provider.Session.find(id)) : null;
    },
    async find(uid) {
      return live(await provider.Session.findByUid(uid));
    },
    async issuedHere(ctx, code) {
      const [issued, here] = await Promise.all([provider.AuthorizationCode.find(code), this.current(ctx)]);
      return !!issued?.sessionUid && !!here && issued.sessionUid === here.uid;
    },
    async end(ctx, uid) {
      // By uid in SQL, where signed-in sessions live: a session found by uid comes back without its
      // id (stored only as a hash, adapters.ts), so session.destroy() could not name its row. Ended
      // by a mark, as SqlAdapter.destroy ends one: a request in flight cannot save it back.
      await db.query(`UPDATE oidc_payloads SET ${ENDED} WHERE model = 'Session' AND uid = $1 AND consumed_at IS NULL`, [uid]);
      ctx.cookies.set(cookie, null, { signed: true, path: '/' });
    },
  };
}
