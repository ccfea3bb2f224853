import { randomBytes } from 'node:crypto';
import type { Redis } from '../storage/redis.js';
import type { AllowedOutcomes } from './authn-context.js';

/** A validated AuthnRequest (or an IdP-initiated start), waiting for the sign-in to finish. */
export interface PendingSso {
  spId: string;
  /** The AuthnRequest's ID; null for IdP-initiated SSO. */
  requestId: string | null;
  acsUrl: string;
  relayState: string | null;
  forceAuthn: boolean;
  isPassive: boolean;
  /**
   * ForceAuthn: when this browser's SSO session had signed in as the request came (oidc-provider's
   * loginTs, seconds; null: no session). The answer must come from a sign-in after it.
   */
  priorLoginTs?: number | null;
  /** ForceAuthn: when the request came (epoch ms, the system's clock as auth_time's): the answer's sign-in is not older. */
  requestedAt?: number;
  /** The principal the request's <saml:Subject> named (its NameID for this SP); the answer is about it or a failure. */
  subjectNameId?: string;
  /** What the request's RequestedAuthnContext accepts (authn-context.ts); absent: either. */
  allowed?: AllowedOutcomes;
}

/** What a SessionIndex we issued stands for (single logout finds the IdP session by it). */
export interface IssuedSession { spId: string; nameId: string; sessionUid: string | null }

/** Short-lived SAML state in Redis, behind an interface (docs/architecture.md, storage layer). */
export interface SamlStore {
  /** True the first time this SP's request ID is seen (atomic: SET NX); false for a replay. */
  firstUse(spId: string, requestId: string, ttlSeconds: number): Promise<boolean>;
  savePending(p: PendingSso, ttlSeconds: number): Promise<string>;
  /** Takes (reads and deletes, atomically) a pending sign-in: a callback finishes it once. */
  takePending(id: string): Promise<PendingSso | null>;
  saveSession(index: string, s: IssuedSession, ttlSeconds: number): Promise<void>;
  findSession(index: string): Promise<IssuedSession | null>;
  /** Whether an assertion went to this SP from this IdP session (saveSession marks it). */
  issuedTo(sessionUid: string, spId: string): Promise<boolean>;
  deleteSession(index: string): Promise<void>;
}

export function createSamlStore(redis: Redis): SamlStore {
  const json = <T>(raw: string | null): T | null => (raw ? (JSON.parse(raw) as T) : null);
  return {
    async firstUse(spId, requestId, ttlSeconds) {
      return (await redis.set(`saml:rid:${spId}:${requestId}`, '1', 'EX', ttlSeconds, 'NX')) === 'OK';
    },
    async savePending(p, ttlSeconds) {
      const id = randomBytes(18).toString('base64url');
      await redis.set(`saml:pending:${id}`, JSON.stringify(p), 'EX', ttlSeconds);
      return id;
    },
    async takePending(id) {
      const [[, raw] = [null, null]] = (await redis.multi().get(`saml:pending:${id}`).del(`saml:pending:${id}`).exec()) ?? [];
      return json<PendingSso>(raw as string | null);
    },
    async saveSession(index, s, ttlSeconds) {
      // Two keys, two commands (a Redis Cluster holds them in different slots).
      await Promise.all([
        redis.set(`saml:si:${index}`, JSON.stringify(s), 'EX', ttlSeconds),
        s.sessionUid ? redis.set(`saml:sp-of:${s.sessionUid}:${s.spId}`, '1', 'EX', ttlSeconds) : null,
      ]);
    },
    issuedTo: async (sessionUid, spId) => (await redis.exists(`saml:sp-of:${sessionUid}:${spId}`)) === 1,
    findSession: async (index) => json<IssuedSession>(await redis.get(`saml:si:${index}`)),
    async deleteSession(index) {
      await redis.del(`saml:si:${index}`);
    },
  };
}
