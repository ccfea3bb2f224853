import type { Adapter } from 'oidc-provider';
import type { SecretBox } from '../crypto/secretbox.js';
import { storageKey } from '../oidc/adapters.js';
import type { Redis } from '../storage/redis.js';

/*
 * A CIBA request as the sign-in core knows it: the sign-in id is `ciba:` and SHA-256 of the
 * auth_req_id (no token in a challenge record or a sign-in key), and this record leads back to the
 * auth_req_id for provider.backchannelResult, sealed under the KEK (a copy of Redis names no
 * request; oidc/adapters.ts stores the request itself under the same hash).
 */

export const CIBA_SIGNIN_PREFIX = 'ciba:';

export const signInIdOf = (authReqId: string): string => `${CIBA_SIGNIN_PREFIX}${storageKey(authReqId)}`;

export interface CibaRequestRef {
  authReqId: string;
  /** The asking app's address, as the request arrived (for the audit of the finish). */
  ip: string;
}

export interface CibaRequests {
  remember(signInId: string, ref: CibaRequestRef, ttlSeconds: number): Promise<void>;
  find(signInId: string): Promise<CibaRequestRef | null>;
  forget(signInId: string): Promise<void>;
}

export function createCibaRequests(redis: Redis, box: SecretBox): CibaRequests {
  const key = (signInId: string) => `ciba:req:${signInId}`;
  return {
    async remember(signInId, ref, ttlSeconds) {
      await redis.set(key(signInId), box.seal(JSON.stringify(ref), signInId), 'EX', Math.max(1, Math.ceil(ttlSeconds)));
    },
    async find(signInId) {
      const sealed = await redis.get(key(signInId));
      if (!sealed) return null;
      try {
        return JSON.parse(box.open(sealed, signInId)) as CibaRequestRef;
      } catch {
        return null;
      }
    },
    async forget(signInId) {
      await redis.del(key(signInId));
    },
  };
}

/**
 * OpenID CIBA 11: a poll after the request expired answers `expired_token`, which oidc-provider
 * gives only while it can still find the request; stored with its bare TTL it would be gone and
 * answer `invalid_grant`. So a BackchannelAuthenticationRequest is kept this much longer.
 */
export const EXPIRED_REQUEST_KEPT_SECONDS = 600;

export function lingeringRequests(base: (model: string) => Adapter): (model: string) => Adapter {
  return (model) => {
    const adapter = base(model);
    if (model !== 'BackchannelAuthenticationRequest') return adapter;
    return new Proxy(adapter, {
      get(target, prop, receiver) {
        if (prop === 'upsert') {
          return (id: string, payload: Parameters<Adapter['upsert']>[1], expiresIn: number) =>
            target.upsert(id, payload, expiresIn ? expiresIn + EXPIRED_REQUEST_KEPT_SECONDS : expiresIn);
        }
        const value: unknown = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  };
}
