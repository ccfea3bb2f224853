import type { Db } from '../storage/db.js';
import type { Redis } from '../storage/redis.js';

/**
 * /readyz's database check: the server answers and takes writes. A standby (after a failover that
 * landed on one) or a database whose transactions are read-only answers `SELECT 1` but fails every
 * sign-in (red-team: /readyz stayed green while each sign-in was a 503).
 */
export async function databaseWritable(db: Pick<Db, 'query'>): Promise<void> {
  const [row] = await db.query<{ standby: boolean; ro: string }>("SELECT pg_is_in_recovery() AS standby, current_setting('transaction_read_only') AS ro");
  if (row?.standby) throw new Error('read-only: a standby server');
  if (row?.ro === 'on') throw new Error('read-only: transactions are read-only');
}

/**
 * /readyz's Redis check: a write with a short expiry. A full Redis under `noeviction` (OOM), a
 * replica (READONLY) or one whose persistence failed (MISCONF) answers PING but refuses writes.
 */
export async function redisWritable(redis: Pick<Redis, 'set'>): Promise<void> {
  await redis.set('readyz', String(process.pid), 'PX', 10_000);
}

/**
 * Redis's eviction policy, when the server tells it (a managed Redis may refuse CONFIG: null). Any
 * policy but `noeviction` lets Redis drop keys under memory pressure, the defences' counters among
 * them (a flood of sign-in pages can fill it): a lockout or the passcode cap would end early.
 */
export async function evictionPolicy(redis: Redis): Promise<string | null> {
  try {
    const answer = await (redis as unknown as { config(op: 'GET', key: string): Promise<unknown> }).config('GET', 'maxmemory-policy');
    const policy = Array.isArray(answer) ? answer[1] : null;
    return typeof policy === 'string' ? policy : null;
  } catch {
    return null;
  }
}
