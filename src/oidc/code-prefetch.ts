import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { Db } from '../storage/db.js';
import { storageKey } from './adapters.js';
import { asPayload, type AdapterFactory } from './refresh-prefetch.js';

/**
 * An authorization-code grant reads two rows of oidc_payloads after the code (in Redis): the
 * session the code is bound to (oidc-provider's checkSessionBinding, Session.findByUid), then the
 * code's Grant (validateGrant's Grant.find). Here the code's read brings both along in one
 * statement, and the two finds that follow in the same request are answered from it: one SQL round
 * trip per code exchange instead of two (bench/signin-throughput.ts counts them).
 *
 * As in refresh-prefetch.ts, nothing outlives the request: the rows ride on this request's context
 * (`current()`), are handed out once each, and a row the statement did not find (revoked, signed
 * out, expired) is looked for again the usual way, which finds it gone as before.
 */
interface Row {
  model: 'Grant' | 'Session' | 'Ended';
  payload: AdapterPayload;
  consumed_at: Date | string | null;
}

const LIVE = '(expires_at IS NULL OR expires_at > now())';
// The account's end of sessions rides along (a third row): the exchange compares the code's
// sign-in with it (provider.ts findAccount) without a statement of its own.
const BOTH = `(SELECT 'Grant' AS model, payload, consumed_at FROM oidc_payloads WHERE model = 'Grant' AND id = $1 AND ${LIVE} LIMIT 1)
UNION ALL
(SELECT 'Session' AS model, payload, consumed_at FROM oidc_payloads WHERE model = 'Session' AND uid = $2 AND ${LIVE} AND consumed_at IS NULL LIMIT 1)
UNION ALL
(SELECT 'Ended' AS model, to_jsonb(sessions_ended_at), NULL FROM accounts WHERE id = $3)`;

interface Prefetched {
  grants: Map<string, AdapterPayload>;
  sessions: Map<string, AdapterPayload>;
}

/**
 * What a code exchange learnt with its code, for findAccount (provider.ts) to compare the code's
 * sign-in with the end of the account's sessions: when the sign-in's first factor began (epoch ms,
 * saved with a code a fresh sign-in's resume issued; oidc-provider keeps only the whole-second
 * auth_time), and the account's sessions_ended_at (epoch ms or null) where the code's read brought
 * it along (a code bound to a session). Undefined: not known here.
 */
export interface CodeSignIn { accountId: string; firstFactorAt?: number; sessionsEndedAt?: number | null }
const signInByRequest = new WeakMap<object, CodeSignIn>();

export function codeSignIn(ctx: object | undefined, accountId: string): CodeSignIn | undefined {
  const known = ctx ? signInByRequest.get(ctx) : undefined;
  return known?.accountId === accountId ? known : undefined;
}

/** The first factor's time of the sign-in this request resumes (interaction/load.ts saves it with the result). */
function resumedFirstFactorAt(ctx: object | undefined): number | undefined {
  const at = (ctx as { oidc?: { result?: { login?: { firstFactorAt?: unknown } } } } | undefined)?.oidc?.result?.login?.firstFactorAt;
  return typeof at === 'number' ? at : undefined;
}

/** Pure: whether a code's payload names a session-bound grant worth reading ahead. */
export function prefetchable(code: AdapterPayload | undefined): code is AdapterPayload & { grantId: string; sessionUid: string } {
  return !!code && code.expiresWithSession === true && typeof code.grantId === 'string' && typeof code.sessionUid === 'string';
}

export function withCodeGrantPrefetch(base: AdapterFactory, db: Db, current: () => object | undefined): AdapterFactory {
  const prefetched = new WeakMap<object, Prefetched>();
  const take = (kind: keyof Prefetched, key: string): AdapterPayload | undefined => {
    const ctx = current();
    const m = ctx ? prefetched.get(ctx)?.[kind] : undefined;
    const payload = m?.get(key);
    if (payload) m!.delete(key);
    return payload;
  };
  return (model) => {
    const inner = base(model);
    if (model === 'AuthorizationCode') {
      return Object.assign(Object.create(inner) as Adapter, {
        async upsert(id: string, payload: AdapterPayload, expiresIn: number) {
          const firstFactorAt = resumedFirstFactorAt(current());
          return inner.upsert(id, firstFactorAt === undefined ? payload : { ...payload, firstFactorAt } as AdapterPayload, expiresIn);
        },
        async find(id: string) {
          const code = (await inner.find(id)) ?? undefined;
          const ctx = current();
          if (ctx && code && typeof code.accountId === 'string') {
            const firstFactorAt = (code as { firstFactorAt?: unknown }).firstFactorAt;
            signInByRequest.set(ctx, { accountId: code.accountId, ...(typeof firstFactorAt === 'number' ? { firstFactorAt } : {}) });
          }
          if (!ctx || !prefetchable(code)) return code;
          const accountId = typeof code.accountId === 'string' ? code.accountId : '';
          const rows = await db.query<Row>(BOTH, [storageKey(code.grantId), code.sessionUid, accountId]);
          const into: Prefetched = { grants: new Map(), sessions: new Map() };
          for (const row of rows) {
            if (row.model === 'Ended') {
              const at = row.payload as unknown as string | null;
              const known = signInByRequest.get(ctx);
              if (known) known.sessionsEndedAt = at ? new Date(at).getTime() : null;
            } else if (row.model === 'Grant') into.grants.set(code.grantId, { ...asPayload(row.payload, row.consumed_at), jti: code.grantId });
            else into.sessions.set(code.sessionUid, asPayload(row.payload, row.consumed_at));
          }
          prefetched.set(ctx, into);
          return code;
        },
      });
    }
    if (model === 'Grant') {
      return Object.assign(Object.create(inner) as Adapter, {
        async find(id: string) { return take('grants', id) ?? inner.find(id); },
      });
    }
    if (model === 'Session') {
      return Object.assign(Object.create(inner) as Adapter, {
        async findByUid(uid: string) { return take('sessions', uid) ?? inner.findByUid(uid); },
      });
    }
    return inner;
  };
}
