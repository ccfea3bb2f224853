import { sweepOldAuditEvents } from '../audit/retention.js';
import type { Db } from '../storage/db.js';

/**
 * Expired rows of `oidc_payloads` are never read again (every lookup filters on `expires_at`),
 * but nothing deleted them: the table grew with every sign-in, for ever (README.md, Security: filling the database). Redis
 * expires its own keys; this sweeps the SQL ones, in batches so that no statement holds many row
 * locks at once.
 */
export async function sweepExpiredPayloads(db: Db, batch = 1000): Promise<number> {
  let total = 0;
  for (;;) {
    const rows = await db.query<{ n: number | string }>(
      `WITH gone AS (
         DELETE FROM oidc_payloads WHERE (model, id) IN (
           SELECT model, id FROM oidc_payloads WHERE expires_at <= now() LIMIT $1)
         RETURNING 1)
       SELECT count(*) AS n FROM gone`, [batch]);
    const n = Number(rows[0]?.n ?? 0);
    total += n;
    if (n < batch) return total;
  }
}

export interface Sweeper {
  /** Runs one sweep now (also what the timer does); the rows it deleted. */
  sweep(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Sweeps at start and then every `intervalMs`: expired oidc_payloads, and audit records older than
 * `auditRetentionDays` (0 or unset: kept). The timer is unref'd (it never keeps the process
 * alive) and `stop()` waits for a sweep under way, so the database can be closed after it. Several
 * processes may sweep at once: each deletes what the others have not.
 */
export function startSweeper(db: Db, opts: { intervalMs: number; auditRetentionDays?: number; onError(err: unknown): void }): Sweeper {
  let running: Promise<number> | null = null;
  let stopped = false;
  const both = async () => (await sweepExpiredPayloads(db)) + (await sweepOldAuditEvents(db, opts.auditRetentionDays ?? 0));
  const sweep = () => {
    running ??= both().finally(() => { running = null; });
    return running;
  };
  const tick = () => { if (!stopped) sweep().catch(opts.onError); };
  const timer = setInterval(tick, opts.intervalMs);
  timer.unref();
  tick();
  return {
    sweep,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running?.catch(() => 0);
    },
  };
}
