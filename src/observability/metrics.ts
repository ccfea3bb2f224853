import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The IdP's Prometheus metrics (docs/production.md, Metrics). One registry per IdP (tests run
 * several in a process), built in app.ts and handed to the few seams that observe events
 * (./instrument.ts): the audit log, the push transport, the challenge store, Redis and the database.
 */
export interface Metrics {
  readonly registry: Registry;
  /** A sign-in step ended: result `success`, `failure`, `refused`, `throttled`...; factor `password`, `push`, `passcode`, `recovery_code`. */
  signin(result: string, factor: string): void;
  /** A push service answered (status class `2xx`, `4xx`, `5xx`) or did not (`timeout`, `network_error`, `refused`), after `seconds`. */
  pushAnswer(answer: string, seconds: number): void;
  /** A challenge left `pending` (approved, denied, expired) `seconds` after it was created. */
  approval(status: string, seconds: number): void;
  /** A Redis client reported an error. */
  redisError(): void;
  /** A database statement failed (kind: `connection` or the SQLSTATE class). */
  dbError(kind: string): void;
  /** Where the pending-challenge gauge reads its value at scrape time. */
  pendingChallengesFrom(read: () => Promise<number>): void;
}

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'idp_' });
  const signins = new Counter({ name: 'idp_signins_total', help: 'Sign-in steps by result and factor.', labelNames: ['result', 'factor'] as const, registers: [registry] });
  const pushes = new Counter({ name: 'idp_push_sends_total', help: 'Push messages by the push service\'s answer (status class, or why there was none).', labelNames: ['answer'] as const, registers: [registry] });
  const pushLatency = new Histogram({
    name: 'idp_push_service_duration_seconds', help: 'Time from sending a push message to the push service\'s answer.', labelNames: ['answer'] as const,
    buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry],
  });
  const approval = new Histogram({
    name: 'idp_approval_duration_seconds', help: 'Time from a push challenge\'s creation to its resolution, by outcome.', labelNames: ['status'] as const,
    buckets: [1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 300, 600], registers: [registry],
  });
  const redisErrors = new Counter({ name: 'idp_redis_errors_total', help: 'Errors reported by the Redis client.', registers: [registry] });
  const dbErrors = new Counter({ name: 'idp_db_errors_total', help: 'Failed database statements by kind.', labelNames: ['kind'] as const, registers: [registry] });
  let readPending: (() => Promise<number>) | null = null;
  /** A scrape waits this long for the pending count, then reports NaN. */
  const PENDING_READ_MS = 1_000;
  new Gauge({
    name: 'idp_pending_challenges', help: 'Push challenges pending and unexpired (shared by every instance: aggregate with max, not sum).', registers: [registry],
    async collect() {
      // A scrape during a Redis outage still answers, at once; idp_redis_errors_total tells the story.
      // Red-team: with a Sentinel group or a Cluster gone, the read hung and so did every scrape.
      if (!readPending) return;
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<number>((resolve) => { timer = setTimeout(() => resolve(Number.NaN), PENDING_READ_MS); });
      try {
        this.set(await Promise.race([readPending().catch(() => Number.NaN), late]));
      } finally {
        clearTimeout(timer);
      }
    },
  });
  return {
    registry,
    signin: (result, factor) => signins.inc({ result, factor }),
    pushAnswer: (answer, seconds) => { pushes.inc({ answer }); pushLatency.observe({ answer }, seconds); },
    approval: (status, seconds) => approval.observe({ status }, Math.max(0, seconds)),
    redisError: () => redisErrors.inc(),
    dbError: (kind) => dbErrors.inc({ kind }),
    pendingChallengesFrom: (read) => { readPending = read; },
  };
}
