import type { Redis } from '../storage/redis.js';
import type { AuditEvent, AuditLog } from '../audit/types.js';
import type { ChallengeStore } from '../challenge/types.js';
import type { PushTransport } from '../push/transport.js';
import type { Db } from '../storage/db.js';
import type { Metrics } from './metrics.js';

/**
 * The seams where metrics are observed: each wraps an existing interface and changes nothing it
 * returns or throws. app.ts composes them; nothing else knows metrics exist.
 */

/** Pure: the sign-in metric an audit event stands for, or null. The audit types are src/signin/'s. */
export function signinOutcome(event: Pick<AuditEvent, 'type' | 'detail'>): { result: string; factor: string } | null {
  const detail = event.detail ?? {};
  switch (event.type) {
    case 'signin.success': {
      const via = typeof detail.via === 'string' ? detail.via : null;
      const amr = Array.isArray(detail.amr) ? detail.amr : [];
      return { result: 'success', factor: via ?? (amr.length === 1 && amr[0] === 'pwd' ? 'password' : 'other') };
    }
    case 'signin.failure': return { result: 'failure', factor: 'password' };
    case 'signin.refused': return { result: 'refused', factor: 'password' };
    case 'signin.passcode.failure': return { result: 'failure', factor: 'passcode' };
    case 'signin.recovery_code.failure': return { result: 'failure', factor: 'recovery_code' };
    case 'signin.throttled': return { result: 'throttled', factor: typeof detail.factor === 'string' ? detail.factor : 'password' };
    case 'push.approved': return { result: 'approved', factor: 'push' };
    case 'push.denied': return { result: 'denied', factor: 'push' };
    case 'push.reported': return { result: 'reported', factor: 'push' };
    default: return null;
  }
}

/** Counts sign-in outcomes as they are audited. */
export function instrumentAudit<A extends AuditLog>(audit: A, metrics: Metrics): A {
  return {
    ...audit,
    async record(event: AuditEvent, opts?: { background?: boolean }) {
      const outcome = signinOutcome(event);
      if (outcome) metrics.signin(outcome.result, outcome.factor);
      return audit.record(event, opts);
    },
  };
}

/** Pure: a push service's answer as a label (its status class, or why there was none). */
export function pushAnswerLabel(answer: Awaited<ReturnType<PushTransport['post']>>): string {
  if (answer.kind === 'error') return answer.reason;
  return answer.status >= 100 && answer.status < 600 ? `${Math.floor(answer.status / 100)}xx` : 'invalid';
}

/** Times every push message and counts the push services' answers. */
export function instrumentTransport(transport: PushTransport, metrics: Metrics): PushTransport {
  return {
    protocolOf: (origin) => transport.protocolOf(origin),
    close: () => transport.close(),
    async post(url, headers, body, timeoutMs) {
      const start = performance.now();
      const answer = await transport.post(url, headers, body, timeoutMs);
      metrics.pushAnswer(pushAnswerLabel(answer), (performance.now() - start) / 1000);
      return answer;
    },
  };
}

/**
 * Reads the pending-challenge count at scrape time (the store keeps its index inside its own
 * scripts, shared by every instance) and observes how long each challenge waited for its answer.
 */
export function instrumentChallenges(store: ChallengeStore, metrics: Metrics, now: () => number): ChallengeStore {
  metrics.pendingChallengesFrom(() => store.countPending(now()));
  return {
    get: (id, at) => store.get(id, at),
    readBeside: (id) => store.readBeside(id),
    listPending: (accountId, at) => store.listPending(accountId, at),
    countPending: (at) => store.countPending(at),
    create: (challenge, link, opts) => store.create(challenge, link, opts),
    async resolve(id, resolution, at, known, also) {
      const outcome = await store.resolve(id, resolution, at, known, also);
      if (outcome === 'resolved') {
        // Metrics are best effort: a failure here must not fail the sign-in. A caller that read
        // the challenge said when it was made; otherwise it is read.
        const createdAt = known?.createdAt ?? (await store.get(id, resolution.at).catch(() => null))?.createdAt;
        if (createdAt !== undefined) metrics.approval(resolution.status, (resolution.at - createdAt) / 1000);
      }
      return outcome;
    },
  };
}

/** Pure: the kind of a failed statement (the SQLSTATE class, or `connection` when it never ran). */
export function dbErrorKind(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? `sqlstate_${code.slice(0, 2)}` : 'connection';
}

/** Counts failed statements; the error still reaches the caller unchanged. */
export function instrumentDb(db: Db, metrics: Metrics): Db {
  const wrap = (inner: Db): Db => ({
    kind: inner.kind,
    close: () => inner.close(),
    async query(sql, params) {
      try {
        return await inner.query(sql, params);
      } catch (err) {
        metrics.dbError(dbErrorKind(err));
        throw err;
      }
    },
    transaction: (fn) => inner.transaction((tx) => fn(wrap(tx))),
  });
  return wrap(db);
}

/**
 * Counts the Redis client's errors (any ioredis client: a single server, Sentinel or Cluster
 * emits `error`). The listener also keeps ioredis from printing "Unhandled error event".
 */
export function watchRedis(redis: Redis, metrics: Metrics, onError: (err: Error) => void): void {
  redis.on('error', (err: Error) => {
    metrics.redisError();
    onError(err);
  });
}
