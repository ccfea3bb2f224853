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

type Row = [type: string, accountId: string | null, clientId: string | null, ip: string | null, detail: string];

/** At most this many rows in one INSERT (5 parameters each, far under PostgreSQL's 65,535). */
const MAX_BATCH = 200;

/**
 * How long a record nobody waits on (`background`: written after its step has answered, e.g. a
 * push's send results) waits for another write to go with. It goes with the first INSERT that
 * starts within this time, or alone when none does: under load it costs no statement of its own.
 */
export const BACKGROUND_LINGER_MS = 100;

export interface AuditWriter {
  (row: Row, opts?: { background?: boolean }): Promise<void>;
  /** Writes what lingers now; later records are written as they come. */
  close(): Promise<void>;
}

/**
 * Group commit: a record is written at once when no INSERT is in flight; records that arrive while
 * one is in flight go together in the next, one statement for all of them. Each caller's promise
 * settles when its own row is written, as before, so nothing answers before its record exists.
 * A batch that fails is retried row by row: one bad record fails only its own caller. A background
 * record lingers (BACKGROUND_LINGER_MS) for the next INSERT, which takes it along.
 */
export function createAuditWriter(db: Db, lingerMs = BACKGROUND_LINGER_MS): AuditWriter {
  const insert = (rows: Row[]) => db.query(
    `INSERT INTO audit_events (type, account_id, client_id, ip, detail) VALUES ${rows.map((_, i) => `($${i * 5 + 1}, $${i * 5 + 2}, $${i * 5 + 3}, $${i * 5 + 4}, $${i * 5 + 5})`).join(', ')}`,
    rows.flat());
  type Entry = { row: Row; seq: number; done: (err?: unknown) => void };
  let seq = 0;
  let queue: Entry[] = [];
  let lingering: Entry[] = [];
  let timer: NodeJS.Timeout | undefined;
  let writing = false;
  let closed = false;
  /** The lingering records join the queue (the next INSERT, or their own), in the order recorded. */
  const release = () => {
    clearTimeout(timer);
    timer = undefined;
    if (!lingering.length) return;
    queue = [...queue, ...lingering].sort((a, b) => a.seq - b.seq);
    lingering = [];
  };
  const drain = async () => {
    writing = true;
    release();
    while (queue.length) {
      const batch = queue.slice(0, MAX_BATCH);
      queue = queue.slice(batch.length);
      try {
        await insert(batch.map((b) => b.row));
        for (const b of batch) b.done();
      } catch (err) {
        if (batch.length === 1) batch[0]!.done(err);
        else for (const b of batch) await insert([b.row]).then(() => b.done(), (e: unknown) => b.done(e));
      }
      if (queue.length) release();
    }
    writing = false;
  };
  const write = (row: Row, opts?: { background?: boolean }) => new Promise<void>((resolve, reject) => {
    const entry: Entry = { row, seq: seq++, done: (err) => (err === undefined ? resolve() : reject(err)) };
    if (opts?.background && !closed && lingerMs > 0) {
      lingering.push(entry);
      timer ??= setTimeout(() => { release(); if (!writing) void drain(); }, lingerMs);
      return;
    }
    queue.push(entry);
    if (!writing) void drain();
  });
  return Object.assign(write, {
    async close() {
      closed = true;
      if (!lingering.length) return;
      const waits = lingering.map((e) => new Promise<void>((resolve) => { const done = e.done; e.done = (err) => { done(err); resolve(); }; }));
      release();
      if (!writing) void drain();
      await Promise.all(waits);
    },
  });
}

/** Audit events: a row in `audit_events` and a structured log line for each. */
export function createAuditLog(db: Db, logger: Logger): AuditLog & {
  /** Writes the records still lingering (at shutdown, before the database closes). */
  close(): Promise<void>;
  query(filter: { accountId?: string | undefined; since?: Date | undefined; until?: Date | undefined; type?: string | undefined; limit?: number }): Promise<AuditRow[]>;
} {
  const write = createAuditWriter(db);
  return {
    async record(event: AuditEvent, opts?: { background?: boolean }) {
      const detail = event.detail ?? {};
      logger.info({ audit: event.type, accountId: event.accountId ?? null, clientId: event.clientId ?? null, ip: event.ip ?? null, detail }, event.type);
      await write([event.type, event.accountId ?? null, event.clientId ?? null, event.ip ?? null, JSON.stringify(detail)], opts);
    },
    close: () => write.close(),
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
