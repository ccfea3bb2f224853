import type { Logger } from '../log.js';
import type { Db } from '../storage/db.js';
import type { AuditEvent, AuditLog } from './types.js';

export interface AuditRow {
  id: number;
  at: Date;
  type: string;
  accountId: string | null;
  clientId: string | null;
  ip: string | null;
  detail: Record<string, unknown>;
}

/** Audit events: a row in `audit_events` and a structured log line for each. */
export function createAuditLog(db: Db, logger: Logger): AuditLog & {
  query(filter: { accountId?: string | undefined; since?: Date | undefined; until?: Date | undefined; type?: string | undefined; limit?: number }): Promise<AuditRow[]>;
} {
  return {
    async record(event: AuditEvent) {
      const detail = event.detail ?? {};
      logger.info({ audit: event.type, accountId: event.accountId ?? null, clientId: event.clientId ?? null, ip: event.ip ?? null, detail }, event.type);
      await db.query('INSERT INTO audit_events (type, account_id, client_id, ip, detail) VALUES ($1, $2, $3, $4, $5)',
        [event.type, event.accountId ?? null, event.clientId ?? null, event.ip ?? null, JSON.stringify(detail)]);
    },
    async query({ accountId, since, until, type, limit = 100 }) {
      const rows = await db.query<{ id: string; at: Date | string; type: string; account_id: string | null; client_id: string | null; ip: string | null; detail: Record<string, unknown> }>(
        `SELECT * FROM audit_events
          WHERE ($1::text IS NULL OR account_id = $1) AND ($2::timestamptz IS NULL OR at >= $2)
            AND ($3::timestamptz IS NULL OR at <= $3) AND ($4::text IS NULL OR type LIKE $4 || '%')
          ORDER BY at DESC, id DESC LIMIT $5`,
        [accountId ?? null, since ?? null, until ?? null, type ?? null, limit]);
      return rows.map((r) => ({ id: Number(r.id), at: new Date(r.at), type: r.type, accountId: r.account_id, clientId: r.client_id, ip: r.ip, detail: r.detail }));
    },
  };
}
