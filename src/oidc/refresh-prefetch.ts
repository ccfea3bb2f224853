import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { Db } from '../storage/db.js';
import { storageKey } from './adapters.js';

/**
 * A refresh-token grant reads two rows of oidc_payloads, one after the other: the RefreshToken
 * (oidc-provider's RefreshToken.find), then its Grant (validateGrant's Grant.find). Here the first
 * read brings the grant's row along in the same statement (a join on the grant's stored key,
 * SHA-256 of its id as src/oidc/adapters.ts writes it), and the Grant.find that follows in the
 * same request is answered from it: one SQL round trip per refresh grant instead of two
 * (bench/token-endpoint.ts).
 *
 * Nothing is cached across requests: the grant read rides on the statement of this very request,
 * is kept on that request's context only (`current()`, oidc-provider's own per-request context),
 * and is handed out once. A grant revoked or expired before the statement is absent from its
 * answer, so the request is refused as before; every other Grant.find reads the table.
 */
export type AdapterFactory = (model: string) => Adapter;

interface Row {
  payload: AdapterPayload;
  consumed_at: Date | string | null;
  grant_payload: AdapterPayload | null;
  grant_consumed_at: Date | string | null;
}

const JOINED = `SELECT rt.payload, rt.consumed_at, g.payload AS grant_payload, g.consumed_at AS grant_consumed_at
  FROM oidc_payloads rt
  LEFT JOIN oidc_payloads g ON g.model = 'Grant' AND rt.grant_id IS NOT NULL
    AND g.id = encode(sha256(convert_to(rt.grant_id, 'UTF8')), 'hex')
    AND (g.expires_at IS NULL OR g.expires_at > now())
 WHERE rt.model = 'RefreshToken' AND rt.id = $1 AND (rt.expires_at IS NULL OR rt.expires_at > now()) LIMIT 1`;

/** Pure: a stored row as oidc-provider expects it back (`consumed` in seconds, like SqlAdapter). */
export function asPayload(payload: AdapterPayload, consumedAt: Date | string | null): AdapterPayload {
  return consumedAt ? { ...payload, consumed: Math.floor(new Date(consumedAt).getTime() / 1000) } : payload;
}

/**
 * Wraps the adapter factory: RefreshToken.find reads its grant too, Grant.find takes that read
 * when it is for the same request and the same grant. `current` returns the request being served
 * (undefined outside one: nothing is then kept).
 */
export function withRefreshGrantPrefetch(base: AdapterFactory, db: Db, current: () => object | undefined): AdapterFactory {
  // Per request: grant id -> the grant's payload as read with its refresh token (null: no such grant).
  const prefetched = new WeakMap<object, Map<string, AdapterPayload | null>>();
  return (model) => {
    const inner = base(model);
    if (model === 'RefreshToken') {
      return Object.assign(Object.create(inner) as Adapter, {
        async find(id: string) {
          const [row] = await db.query<Row>(JOINED, [storageKey(id)]);
          if (!row) return undefined;
          const grantId = row.payload.grantId;
          const ctx = current();
          if (ctx && typeof grantId === 'string') {
            let m = prefetched.get(ctx);
            if (!m) prefetched.set(ctx, (m = new Map()));
            m.set(grantId, row.grant_payload ? asPayload(row.grant_payload, row.grant_consumed_at) : null);
          }
          return { ...asPayload(row.payload, row.consumed_at), jti: id };
        },
      });
    }
    if (model === 'Grant') {
      return Object.assign(Object.create(inner) as Adapter, {
        async find(id: string) {
          const ctx = current();
          const m = ctx ? prefetched.get(ctx) : undefined;
          if (m?.has(id)) {
            const payload = m.get(id)!;
            m.delete(id);
            return payload ? { ...payload, jti: id } : undefined;
          }
          return inner.find(id);
        },
      });
    }
    return inner;
  };
}
