import type { Db } from '../storage/db.js';

/**
 * Audit records older than the retention (AUDIT_RETENTION_DAYS) are deleted, in batches so that
 * no statement holds many row locks at once; `audit_events_at` serves the search. Nothing reads an
 * audit record to decide anything (throttles, lockouts and mutes live in Redis and the account), so
 * deleting old ones changes no sign-in. 0 days keeps every record.
 */
export async function sweepOldAuditEvents(db: Db, retentionDays: number, batch = 1000): Promise<number> {
  if (!(retentionDays > 0)) return 0;
  let total = 0;
  for (;;) {
    const rows = await db.query<{ n: number | string }>(
      `WITH gone AS (
         DELETE FROM audit_events WHERE id IN (
           SELECT id FROM audit_events WHERE at < now() - make_interval(days => $1::int) LIMIT $2)
         RETURNING 1)
       SELECT count(*) AS n FROM gone`, [retentionDays, batch]);
    const n = Number(rows[0]?.n ?? 0);
    total += n;
    if (n < batch) return total;
  }
}
