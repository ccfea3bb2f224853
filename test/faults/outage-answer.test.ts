import { describe, expect, it } from '@jest/globals';
import { Cluster, Redis } from 'ioredis';
import pg from 'pg';
import { isStorageOutage, toAppError } from '../../src/http/errors.js';
import { startFaultWorld } from './fleet.js';

/**
 * Which errors are a storage outage (503 temporarily_unavailable, Retry-After) and which stay a
 * fault of ours (500 that shows nothing): the errors come from the real clients against private
 * servers that are down, not from hand-made objects.
 */
describe('storage outages are 503, other faults stay 500', () => {
  it('ioredis against a Redis that is gone: MaxRetriesPerRequestError -> 503 with Retry-After', async () => {
    const w = await startFaultWorld({ redis: 'single' });
    try {
      const client = new Redis(w.redis.url, { maxRetriesPerRequest: 2 });
      client.on('error', () => {});
      await client.ping();
      await w.redis.stop();
      const err = await client.get('k').then(() => null, (e: unknown) => e);
      client.disconnect();
      expect(isStorageOutage(err)).toBe(true);
      const e = toAppError(err);
      expect({ status: e.status, code: e.code, expose: e.expose }).toEqual({ status: 503, code: 'temporarily_unavailable', expose: true });
      expect(e.headers['Retry-After']).toMatch(/^\d+$/);
      expect(e.message).not.toMatch(/127\.0\.0\.1|max retries|ioredis/i);
    } finally {
      await w.stop();
    }
  }, 60_000);

  it('a cluster client with no node to reach -> 503', async () => {
    const gone = await startFaultWorld({ redis: 'single' });
    await gone.stop(); // its port, with nothing listening on it any more
    const client = new Cluster([{ host: '127.0.0.1', port: gone.redis.port }], { clusterRetryStrategy: () => null, redisOptions: { maxRetriesPerRequest: 1 } });
    client.on('error', () => {});
    const err = await client.get('k').then(() => null, (e: unknown) => e);
    client.disconnect();
    expect(isStorageOutage(err)).toBe(true);
  }, 60_000);

  it('pg against a PostgreSQL shutting down and then down -> 503', async () => {
    const w = await startFaultWorld({ postgres: true });
    try {
      const pool = new pg.Pool({ connectionString: w.pg.url, connectionTimeoutMillis: 5000 });
      pool.on('error', () => {});
      await pool.query('SELECT 1');
      const held = await pool.connect();
      held.on('error', () => {});
      const during = held.query('SELECT pg_sleep(30)').then(() => null, (e: unknown) => e);
      await w.pg.down();
      expect(isStorageOutage(await during)).toBe(true); // 57P01 admin_shutdown, or the connection ended
      held.release(true);
      const after = await pool.query('SELECT 1').then(() => null, (e: unknown) => e);
      expect(isStorageOutage(after)).toBe(true); // ECONNREFUSED
      expect(toAppError(after).status).toBe(503);
      await pool.end().catch(() => {});
    } finally {
      await w.stop();
    }
  }, 120_000);

  it('everything else stays a 500 that shows nothing, and a 4xx stays itself', () => {
    for (const err of [new Error('boom'), new TypeError("Cannot read properties of undefined (reading 'x')"), Object.assign(new Error('duplicate key'), { code: '23505' }), 'a string', null]) {
      expect(isStorageOutage(err)).toBe(false);
      const e = toAppError(err);
      expect({ status: e.status, code: e.code, expose: e.expose }).toEqual({ status: 500, code: 'server_error', expose: false });
    }
    // A client cannot make its own request look like an outage to get a different answer.
    expect(toAppError(Object.assign(new Error('ECONNREFUSED'), { status: 400, expose: true })).status).toBe(400);
  });
});
