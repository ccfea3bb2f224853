import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { newChallenge } from '../../src/challenge/model.js';
import { createRedisChallengeStore } from '../../src/challenge/redis-store.js';
import { createThrottle } from '../../src/defences/throttle-store.js';
import type { Challenge, Resolution } from '../../src/challenge/types.js';
import { createDeviceApi, type DeviceApiDeps } from '../../src/device-api/routes.js';
import { createEnrollmentCodes } from '../../src/devices/enrollment-codes.js';
import { createDeviceRegistry } from '../../src/devices/registry.js';
import { openRedis } from '../../src/storage/redis.js';
import { SimulatedAuthenticator } from './authenticator.js';
import { TEST_REDIS_URL, uniquePrefix } from './env.js';
import { memoryAudit, testSecretBox, type TestDb } from './devices-fixtures.js';

export const TEST_ISSUER = 'https://idp.example.test';

/** A shared, hand-moved clock for the server, the challenge store and the simulated phones. */
export interface Clock {
  now: () => number;
  advance(ms: number): void;
}

export function manualClock(start = Date.now()): Clock {
  let t = start;
  return { now: () => t, advance: (ms) => { t += ms; } };
}

/**
 * The device API in a bare Koa app on a real port, over a migrated database and real Redis, with
 * everything a test wants to look at exposed.
 */
export async function startDeviceApi(handle: TestDb, clock: Clock, overrides: Partial<DeviceApiDeps> = {}) {
  const redis = openRedis(TEST_REDIS_URL, uniquePrefix('devapi'));
  const challenges = createRedisChallengeStore(redis);
  const devices = createDeviceRegistry(handle.db);
  const codes = createEnrollmentCodes(handle.db, { now: clock.now });
  const audit = memoryAudit();
  const resolved: Array<[Challenge, Resolution]> = [];
  const secretBox = testSecretBox();
  const router = createDeviceApi({
    db: handle.db, devices, codes, challenges, redis, secretBox, issuer: TEST_ISSUER,
    vapidPublicKey: 'BTestVapidKey', audit, now: clock.now, throttle: createThrottle(redis, clock.now),
    policy: async () => ({ numberMatching: true, unlock: 'none', pollIntervalSeconds: 5 }),
    onResolved: async (ch, res) => { resolved.push([ch, res]); },
    responseRateLimit: { max: 1000, windowMs: 60_000 },
    ...overrides,
  });
  const app = new Koa();
  app.use(router.routes());
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    baseUrl, redis, challenges, devices, codes, audit, resolved, secretBox,

    /** Enrolls a new simulated phone for `accountId` through the API. */
    async enroll(accountId: string, name = 'Simulated phone') {
      const { code } = await codes.issue(accountId, 'test');
      return SimulatedAuthenticator.enroll(baseUrl, code, { name, now: clock.now });
    },

    /** A pending challenge for `accountId`, written straight into the store. */
    async challenge(accountId: string, opts: { numberMatching?: boolean; ttlMs?: number } = {}) {
      const ch = newChallenge({
        accountId, signInId: 'uid-1', clientId: 'demo', appName: 'Demo App', ip: '203.0.113.7',
        browser: 'Chrome on Linux', location: null, numberMatching: opts.numberMatching ?? false,
        ttlMs: opts.ttlMs ?? 120_000, now: clock.now(),
      });
      await challenges.create(ch);
      return ch;
    },

    async status(id: string) {
      return (await challenges.get(id, clock.now()))?.status;
    },

    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      const prefix = redis.options.keyPrefix ?? '';
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys.map((k) => k.slice(prefix.length)));
      await redis.quit();
    },
  };
}

export type DeviceApiHarness = Awaited<ReturnType<typeof startDeviceApi>>;
