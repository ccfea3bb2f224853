import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createLastUseWriter } from '../../src/devices/last-use.js';
import { createDeviceRegistry, newDeviceId, type DeviceRegistry } from '../../src/devices/registry.js';
import type { Db } from '../../src/storage/db.js';
import { createAccount, fakePublicJwk, openTestPostgres, TEST_ENGINES, testSecretBox, type TestDb } from '../support/devices-fixtures.js';
import { manualClock, startDeviceApi } from '../support/devices-api.js';

/**
 * A confirmed device's last use is written behind (src/devices/last-use.ts): what an operator reading
 * the devices table, or a user reading the account page, sees after the flush; what must never
 * happen: a time going backwards, a pending device confirmed by it, a noted use lost at shutdown.
 */
function lastUseContract(engine: string, open: () => Promise<TestDb>) {
  describe(`last use written behind, on ${engine}`, () => {
    let handle: TestDb;
    let db: Db;
    let statements: string[];
    let devices: DeviceRegistry;
    let alice: string;
    const box = testSecretBox();
    beforeAll(async () => {
      handle = await open();
      statements = [];
      db = { ...handle.db, query: (sql, params) => { statements.push(sql); return handle.db.query(sql, params); } };
      devices = createDeviceRegistry(db);
      alice = await createAccount(handle.db, `alice${engine.toLowerCase()}`);
    });
    afterAll(() => handle.close());

    async function device(confirmedAt: Date | null) {
      const id = newDeviceId();
      await devices.create({ id, accountId: alice, name: 'Pixel', publicJwk: await fakePublicJwk(), push: null, totpSecretSealed: box.seal('JBSWY3DPEHPK3PXP', id) });
      if (confirmedAt) await devices.touch(id, confirmedAt);
      return id;
    }
    const lastUsed = async (id: string) => (await devices.get(id))?.lastUsedAt?.toISOString() ?? null;

    it('writes the uses of many devices, noted at once, in one statement, each its own latest time', async () => {
      const ids = await Promise.all(Array.from({ length: 40 }, () => device(new Date('2026-01-01T00:00:00Z'))));
      const writer = createLastUseWriter(db, { flushMs: 60_000 });
      statements.length = 0;
      ids.forEach((id, i) => {
        writer.note(id, new Date(Date.UTC(2026, 5, 1, 0, 0, i)));
        writer.note(id, new Date(Date.UTC(2026, 4, 1))); // older: ignored
      });
      expect(statements).toHaveLength(0);
      await writer.flush();
      expect(statements.filter((s) => s.startsWith('UPDATE devices'))).toHaveLength(1);
      for (const [i, id] of ids.entries()) expect(await lastUsed(id)).toBe(new Date(Date.UTC(2026, 5, 1, 0, 0, i)).toISOString());
      await writer.close();
    });

    it('writes by itself within its interval, and at once when it holds its maximum', async () => {
      const [a, b, c] = await Promise.all([1, 2, 3].map(() => device(new Date('2026-01-01T00:00:00Z'))));
      const timed = createLastUseWriter(db, { flushMs: 50 });
      timed.note(a!, new Date('2026-03-01T00:00:00Z'));
      // Nobody flushes these two writers: only their timer (50 ms) or their maximum (2) can write
      // within the 5 s the check waits (the other interval is a minute).
      expect(await eventually(() => lastUsed(a!), '2026-03-01T00:00:00.000Z')).toBe('2026-03-01T00:00:00.000Z');
      const full = createLastUseWriter(db, { flushMs: 60_000, max: 2 });
      full.note(b!, new Date('2026-03-02T00:00:00Z'));
      expect(await lastUsed(b!)).toBe('2026-01-01T00:00:00.000Z');
      full.note(c!, new Date('2026-03-03T00:00:00Z'));
      expect(await eventually(() => lastUsed(c!), '2026-03-03T00:00:00.000Z')).toBe('2026-03-03T00:00:00.000Z');
      expect(await lastUsed(b!)).toBe('2026-03-02T00:00:00.000Z');
      await Promise.all([timed.close(), full.close()]);
    });

    it('never moves a newer last use (an answer\'s) back, and never confirms a pending device', async () => {
      const answered = await device(new Date('2026-01-01T00:00:00Z'));
      const pending = await device(null);
      const writer = createLastUseWriter(db, { flushMs: 60_000 });
      writer.note(answered, new Date('2026-02-01T00:00:00Z'));
      writer.note(pending, new Date('2026-02-01T00:00:00Z'));
      // The answer records its use in its own statement meanwhile, later than the note.
      expect(await devices.acceptAnswerStep(answered, 1, new Date('2026-02-01T00:00:05Z'))).toBe(true);
      await writer.close();
      expect(await lastUsed(answered)).toBe('2026-02-01T00:00:05.000Z');
      expect(await lastUsed(pending)).toBeNull();
    });

    it('loses nothing noted before close(), and a failed write does not stop the next', async () => {
      const id = await device(new Date('2026-01-01T00:00:00Z'));
      const errors: unknown[] = [];
      let fail = true;
      const flaky: Db = { ...db, query: async (sql, params) => { if (fail) { fail = false; throw new Error('connection reset'); } return db.query(sql, params); } };
      const writer = createLastUseWriter(flaky, { flushMs: 60_000, onError: (e) => errors.push(e) });
      writer.note(id, new Date('2026-04-01T00:00:00Z'));
      await writer.flush();
      expect(errors).toHaveLength(1);
      writer.note(id, new Date('2026-04-02T00:00:00Z'));
      await writer.close();
      expect(await lastUsed(id)).toBe('2026-04-02T00:00:00.000Z');
    });
  });
}

/** Polls `read` until it gives `want` or 5 s pass; returns the last value read. */
async function eventually<T>(read: () => Promise<T>, want: T): Promise<T> {
  const until = Date.now() + 5000;
  let got = await read();
  while (got !== want && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 20));
    got = await read();
  }
  return got;
}

for (const [engine, open] of TEST_ENGINES) lastUseContract(engine, open);

describe('the device API with last use written behind', () => {
  const clock = manualClock();
  let handle: TestDb;
  let statements: string[];
  let api: Awaited<ReturnType<typeof startDeviceApi>>;
  let writer: ReturnType<typeof createLastUseWriter>;
  beforeAll(async () => {
    const real = await openTestPostgres('lastuse');
    statements = [];
    handle = { ...real, db: { ...real.db, query: (sql, params) => { statements.push(sql); return real.db.query(sql, params); } } };
    writer = createLastUseWriter(handle.db, { flushMs: 60_000 });
    api = await startDeviceApi(handle, clock, { lastUse: writer });
  });
  afterAll(async () => {
    await api.close();
    await handle.close();
  });

  it('confirms a new phone at its first signed call at once, and later uses after the flush, with the time of the call', async () => {
    const alice = await createAccount(handle.db, 'alicelastuse');
    const phone = await api.enroll(alice, 'Pixel 8');
    expect((await api.devices.get(phone.deviceId))!.lastUsedAt).toBeNull();
    // The phone's first signed call confirms it (a pending device stops counting after ten minutes):
    // written before the call is answered, not behind.
    expect((await phone.request('GET', '/api/device/challenges')).status).toBe(200);
    const confirmed = (await api.devices.get(phone.deviceId))!.lastUsedAt;
    expect(confirmed?.getTime()).toBe(clock.now());

    clock.advance(5 * 60_000);
    const ch = await api.challenge(alice);
    statements.length = 0;
    const res = await phone.request('GET', `/api/device/challenges/${ch.id}`);
    expect(res.status).toBe(200);
    // The fetch itself wrote nothing: the use waits for the flush.
    expect(statements.filter((s) => /^\s*UPDATE devices/.test(s))).toEqual([]);
    expect((await api.devices.get(phone.deviceId))!.lastUsedAt).toEqual(confirmed);
    await writer.flush();
    expect((await api.devices.get(phone.deviceId))!.lastUsedAt!.getTime()).toBe(clock.now());
  });
});
