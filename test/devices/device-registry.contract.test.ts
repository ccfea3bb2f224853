import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createDeviceRegistry, newDeviceId, type DeviceRegistry, type NewDevice } from '../../src/devices/registry.js';
import type { Db } from '../../src/storage/db.js';
import { createAccountStore } from '../../src/accounts/store.js';
import {
  TEST_ENGINES, createAccount, fakePublicJwk, fakePushSubscription, testSecretBox, type TestDb,
} from '../support/devices-fixtures.js';

/**
 * What the device API, the notifier and the self-service page rely on from the device registry,
 * run unchanged against every engine the product supports (STYLE 5).
 */
function registryContract(engine: string, open: () => Promise<TestDb>) {
  describe(`device registry on ${engine}`, () => {
    let handle: TestDb;
    let db: Db;
    let devices: DeviceRegistry;
    let alice: string;
    let bob: string;
    const box = testSecretBox();

    beforeAll(async () => {
      handle = await open();
      db = handle.db;
      devices = createDeviceRegistry(db);
      alice = await createAccount(db, `alice${engine}`);
      bob = await createAccount(db, `bob${engine}`);
    });
    afterAll(() => handle.close());

    async function newDevice(accountId: string, extra: Partial<NewDevice> = {}) {
      const id = newDeviceId();
      return devices.create({
        id, accountId, name: 'Pixel 8', publicJwk: await fakePublicJwk(), push: null,
        totpSecretSealed: box.seal('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', id), ...extra,
      });
    }

    it('creates a device with a dev_ id and reads it back field by field', async () => {
      const jwk = await fakePublicJwk();
      const push = await fakePushSubscription();
      const created = await newDevice(alice, { publicJwk: jwk, push, unlock: 'pin', name: 'Work phone' });
      expect(created.id).toMatch(/^dev_[A-Za-z0-9_-]{22}$/);
      const read = await devices.get(created.id);
      expect(read).toEqual(created);
      expect(read).toMatchObject({
        accountId: alice, name: 'Work phone', publicJwk: jwk, push, pushStatus: 'active', status: 'active',
        unlock: 'pin', lastOtpStep: 0, lastUsedAt: null,
      });
      expect(read!.createdAt).toBeInstanceOf(Date);
    });

    it('generates an id when none is given, and ids do not repeat', async () => {
      const a = await devices.create({ accountId: alice, name: 'x', publicJwk: await fakePublicJwk(), push: null, totpSecretSealed: 's' });
      const b = await devices.create({ accountId: alice, name: 'y', publicJwk: await fakePublicJwk(), push: null, totpSecretSealed: 's' });
      expect(a.id).toMatch(/^dev_/);
      expect(a.id).not.toBe(b.id);
      expect(a.pushStatus).toBe('none');
    });

    it('answers null for an unknown device', async () => {
      expect(await devices.get('dev_nope')).toBeNull();
      expect(await devices.getTotpSecretSealed('dev_nope')).toBeNull();
    });

    it("lists only the account's own devices, oldest first", async () => {
      const own = await newDevice(bob);
      const second = await newDevice(bob);
      const list = await devices.listByAccount(bob);
      expect(list.map((d) => d.id)).toEqual([own.id, second.id]);
      expect((await devices.listByAccount(alice)).every((d) => d.accountId === alice)).toBe(true);
    });

    it("reads a push's dispatch list with the account's end of sessions in one call: the same devices as listByAccount", async () => {
      const carol = await createAccount(db, `dave${engine}`);
      expect(await devices.listForDispatch(carol)).toEqual({ devices: [], sessionsEndedAt: null });
      const one = await newDevice(carol, { push: await fakePushSubscription() });
      const two = await newDevice(carol);
      await devices.revoke(two.id);
      const read = await devices.listForDispatch(carol);
      expect(read.devices).toEqual(await devices.listByAccount(carol));
      expect(read.devices.map((d) => [d.id, d.status])).toEqual([[one.id, 'active'], [two.id, 'revoked']]);
      expect(read.sessionsEndedAt).toBeNull();
      await db.query("UPDATE accounts SET sessions_ended_at = '2026-01-02T03:04:05.678Z' WHERE id = $1", [carol]);
      expect((await devices.listForDispatch(carol)).sessionsEndedAt).toEqual(new Date('2026-01-02T03:04:05.678Z'));
      expect(await devices.listForDispatch('acc_nobody')).toEqual({ devices: [], sessionsEndedAt: null });
    });

    it('renames an active device', async () => {
      const d = await newDevice(alice);
      expect(await devices.rename(d.id, 'Tablet')).toBe(true);
      expect((await devices.get(d.id))!.name).toBe('Tablet');
      expect(await devices.rename('dev_nope', 'x')).toBe(false);
    });

    it('revokes for good: status, push dropped, no later push or OTP step accepted', async () => {
      const d = await newDevice(alice, { push: await fakePushSubscription() });
      expect(await devices.revoke(d.id)).toBe(true);
      const revoked = (await devices.get(d.id))!;
      expect(revoked).toMatchObject({ status: 'revoked', push: null, pushStatus: 'none' });
      const [row] = await db.query<{ revoked_at: Date | null }>('SELECT revoked_at FROM devices WHERE id = $1', [d.id]);
      expect(row!.revoked_at).not.toBeNull();
      expect(await devices.revoke(d.id)).toBe(false);
      expect(await devices.setPush(d.id, await fakePushSubscription())).toBe(false);
      expect((await devices.get(d.id))!.push).toBeNull();
      expect(await devices.acceptOtpStep(d.id, 10)).toBe(false);
      expect(await devices.rename(d.id, 'again')).toBe(false);
      expect((await devices.listPushTargets(alice)).map((x) => x.id)).not.toContain(d.id);
    });

    it('switches between push and poll mode', async () => {
      const d = await newDevice(alice);
      const sub = await fakePushSubscription();
      expect(await devices.setPush(d.id, sub)).toBe(true);
      expect(await devices.get(d.id)).toMatchObject({ push: sub, pushStatus: 'active' });
      expect((await devices.listPushTargets(alice)).map((x) => x.id)).toContain(d.id);
      expect(await devices.setPush(d.id, null)).toBe(true);
      expect(await devices.get(d.id)).toMatchObject({ push: null, pushStatus: 'none' });
      expect((await devices.listPushTargets(alice)).map((x) => x.id)).not.toContain(d.id);
    });

    it('never uses a dead subscription again, until the device sends a new one', async () => {
      const sub = await fakePushSubscription();
      const d = await newDevice(alice, { push: sub });
      expect(await devices.markPushDead(d.id, sub.endpoint)).toBe(true);
      expect((await devices.get(d.id))!.pushStatus).toBe('dead');
      expect((await devices.listPushTargets(alice)).map((x) => x.id)).not.toContain(d.id);
      const fresh = await fakePushSubscription();
      await devices.setPush(d.id, fresh);
      expect((await devices.listPushTargets(alice)).map((x) => x.id)).toContain(d.id);
    });

    it('does not kill a newer subscription when a late failure names the old endpoint', async () => {
      const old = await fakePushSubscription();
      const d = await newDevice(alice, { push: old });
      await devices.setPush(d.id, await fakePushSubscription());
      expect(await devices.markPushDead(d.id, old.endpoint)).toBe(false);
      expect((await devices.get(d.id))!.pushStatus).toBe('active');
      expect(await devices.markPushDead(d.id)).toBe(true);
      expect((await devices.get(d.id))!.pushStatus).toBe('dead');
    });

    it('accepts each TOTP step once and never an older one (RFC 6238 5.2)', async () => {
      const d = await newDevice(alice);
      const now = Math.floor(Date.now() / 30_000);
      expect(await devices.acceptOtpStep(d.id, now)).toBe(true);
      expect(await devices.acceptOtpStep(d.id, now)).toBe(false);
      expect(await devices.acceptOtpStep(d.id, now - 1)).toBe(false);
      expect(await devices.acceptOtpStep(d.id, now + 1)).toBe(true);
      expect((await devices.get(d.id))!.lastOtpStep).toBe(now + 1);
      // bigint column: steps beyond 2^31 still compare as numbers.
      expect(await devices.acceptOtpStep(d.id, 2 ** 40)).toBe(true);
      expect((await devices.get(d.id))!.lastOtpStep).toBe(2 ** 40);
    });

    it('counts active devices, and knows an account that has or had an authenticator (a confirmed one, revoked or not; a pending one only while active)', async () => {
      const carol = await createAccount(db, `counted${engine}`);
      expect(await devices.hasEverHad(carol)).toBe(false);
      expect(await devices.countActive(carol)).toBe(0);
      const d = await newDevice(carol);
      const e = await newDevice(carol);
      expect(await devices.countActive(carol)).toBe(2);
      expect(await devices.hasEverHad(carol)).toBe(true); // pending, active
      await devices.revoke(d.id);
      await devices.revoke(e.id);
      expect(await devices.countActive(carol)).toBe(0);
      // Revoked before their phones confirmed them: the account never had an authenticator.
      expect(await devices.hasEverHad(carol)).toBe(false);
      const f = await newDevice(carol);
      expect(await devices.confirm(f.id, new Date())).toBe(true);
      await devices.revoke(f.id);
      expect(await devices.hasEverHad(carol)).toBe(true); // confirmed, then revoked
    });

    it('counts them the same with the account the sign-in finds by username (accounts store, one statement)', async () => {
      const accounts = createAccountStore(db);
      const erin = await createAccount(db, `Erin${engine}`);
      expect(await accounts.findForSignIn(`erin${engine}`)).toMatchObject({ account: { id: erin, devices: { active: 0, ever: 0 } }, folded: `erin${engine}`.toLowerCase() });
      const d = await newDevice(erin);
      const e = await newDevice(erin);
      await newDevice(bob);
      // `ever`: the devices their phones confirmed, revoked ones included.
      expect((await accounts.findForSignIn(`ERIN${engine}`)).account!.devices).toEqual({ active: 2, ever: 0 });
      await devices.confirm(d.id, new Date());
      await devices.confirm(e.id, new Date());
      expect((await accounts.findForSignIn(`ERIN${engine}`)).account!.devices).toEqual({ active: 2, ever: 2 });
      await devices.revoke(d.id);
      expect((await accounts.findForSignIn(`erin${engine}`)).account!.devices).toEqual({ active: 1, ever: 2 });
      // No account: none, and the name as the look-up folds it (the password throttle's key).
      expect(await accounts.findForSignIn(`NoBody${engine}`)).toEqual({ account: null, folded: `nobody${engine}`.toLowerCase() });
    });

    it('answers null, without asking the database, for an id that cannot be a device id', async () => {
      for (const id of ['', 'dev_\u0000', 'dev_\ud800', 'dev x', 'x'.repeat(129)]) expect(await devices.get(id)).toBeNull();
    });

    it('records when a device was last used', async () => {
      const d = await newDevice(alice);
      const at = new Date('2030-01-02T03:04:05.000Z');
      await devices.touch(d.id, at);
      expect((await devices.get(d.id))!.lastUsedAt!.toISOString()).toBe(at.toISOString());
    });

    it('confirms a pending device at its first signed call, but not one /account enrolled once a device enrolled after it was confirmed', async () => {
      const owner = await createAccount(db, `frank${engine}`);
      const planted = await newDevice(owner, { enrolledBy: `self:${owner}` });
      const byAdmin = await newDevice(owner, { enrolledBy: 'admin' });
      const mine = await newDevice(owner, { enrolledBy: 'admin' });
      await db.query("UPDATE devices SET created_at = now() - interval '2 minutes' WHERE id = ANY($1)", [[planted.id, byAdmin.id]]);
      expect(await devices.confirm(mine.id, new Date())).toBe(true);
      expect(await devices.confirm(mine.id, new Date())).toBe(true); // again: still confirmed, just touched
      expect(await devices.confirm(planted.id, new Date())).toBe(false);
      expect((await devices.get(planted.id))!.lastUsedAt).toBeNull();
      expect(await devices.confirm(byAdmin.id, new Date())).toBe(true); // an administrator's code: as ever
      // A device enrolled after the confirmed one confirms as ever; a revoked one never.
      const later = await newDevice(owner);
      expect(await devices.confirm(later.id, new Date())).toBe(true);
      const gone = await newDevice(owner);
      await devices.revoke(gone.id);
      expect(await devices.confirm(gone.id, new Date())).toBe(false);
    });

    it('confirms a phone /account enrolled beside an already confirmed one, whichever of the later phones calls first', async () => {
      const owner = await createAccount(db, `heidi${engine}`);
      const first = await newDevice(owner, { enrolledBy: 'admin' });
      expect(await devices.confirm(first.id, new Date())).toBe(true);
      await db.query("UPDATE devices SET created_at = now() - interval '2 minutes' WHERE id = $1", [first.id]);
      const phone = await newDevice(owner, { enrolledBy: `self:${owner}` });
      const tablet = await newDevice(owner, { enrolledBy: `self:${owner}` });
      await db.query("UPDATE devices SET created_at = now() - interval '1 minute' WHERE id = $1", [phone.id]);
      expect(await devices.confirm(tablet.id, new Date())).toBe(true);
      expect(await devices.confirm(phone.id, new Date())).toBe(true);
    });

    it("revokes an account's pending devices /account enrolled, but the one kept, and no other account's", async () => {
      const owner = await createAccount(db, `grace${engine}`);
      const self = { enrolledBy: `self:${owner}` };
      const confirmed = await newDevice(owner, self);
      await devices.touch(confirmed.id, new Date());
      const pending = await newDevice(owner, self);
      const byAdmin = await newDevice(owner, { enrolledBy: 'admin' });
      const unknown = await newDevice(owner);
      const kept = await newDevice(owner, self);
      const others = await newDevice(bob, { enrolledBy: `self:${bob}` });
      expect(await devices.revokePending(owner, kept.id)).toEqual([pending.id]);
      expect((await devices.get(pending.id))!.status).toBe('revoked');
      for (const d of [confirmed, byAdmin, unknown, kept, others]) expect((await devices.get(d.id))!.status).toBe('active');
      expect(await devices.revokePending(owner, kept.id)).toEqual([]);
    });

    it('keeps the TOTP secret sealed, bound to its device id', async () => {
      const d = await newDevice(alice);
      const sealed = (await devices.getTotpSecretSealed(d.id))!;
      expect(sealed).not.toContain('JBSWY3DP');
      expect(box.open(sealed, d.id)).toBe('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP');
      // Copied onto another row, it does not open there (aad = device id).
      expect(() => box.open(sealed, newDeviceId())).toThrow();
      const rows = await db.query<{ t: string }>('SELECT devices::text AS t FROM devices WHERE id = $1', [d.id]);
      expect(rows[0]!.t).not.toContain('JBSWY3DPEHPK3PXP');
    });

    it('re-seals a secret only over the value it read', async () => {
      const d = await newDevice(alice);
      const sealed = (await devices.getTotpSecretSealed(d.id))!;
      const resealed = box.seal(box.open(sealed, d.id), d.id);
      expect(await devices.rewrapTotpSecret(d.id, 'stale', resealed)).toBe(false);
      expect(await devices.rewrapTotpSecret(d.id, sealed, resealed)).toBe(true);
      expect(await devices.getTotpSecretSealed(d.id)).toBe(resealed);
    });

    it('records a WebAuthn signature counter once, only upward (W3C WebAuthn 6.1.1), and the backup state', async () => {
      const webauthn = { credentialId: 'Y3JlZC0x', publicKey: 'pQECAyYgASFYIA', counter: 0, backupEligible: true, backedUp: false };
      const d = await newDevice(alice, { unlock: 'webauthn', webauthn });
      expect((await devices.get(d.id))!.webauthn).toEqual(webauthn);
      // Of concurrent records of one counter exactly one succeeds: a replayed assertion loses the race.
      const results = await Promise.all(Array.from({ length: 5 }, () => devices.recordWebAuthnUse(d.id, 4, true)));
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await devices.recordWebAuthnUse(d.id, 3, true)).toBe(false);
      // A 0 after a counter was stored is a clone's (red-team: it overwrote the 4, and the clone went on with 0).
      expect(await devices.recordWebAuthnUse(d.id, 0, true)).toBe(false);
      expect((await devices.get(d.id))!.webauthn).toEqual({ ...webauthn, counter: 4, backedUp: true });
      // Authenticators that keep no counter report 0 every time: always recorded.
      const z = await newDevice(alice, { unlock: 'webauthn', webauthn });
      expect(await devices.recordWebAuthnUse(z.id, 0, false)).toBe(true);
      expect(await devices.recordWebAuthnUse(z.id, 0, false)).toBe(true);
      // A device without a credential, or a revoked one, records nothing.
      expect(await devices.recordWebAuthnUse((await newDevice(alice)).id, 1, false)).toBe(false);
      await devices.revoke(z.id);
      expect(await devices.recordWebAuthnUse(z.id, 9, false)).toBe(false);
    });

    it('removes devices with their account', async () => {
      const carol = await createAccount(db, `carol${engine}`);
      const d = await newDevice(carol);
      await db.query('DELETE FROM accounts WHERE id = $1', [carol]);
      expect(await devices.get(d.id)).toBeNull();
    });
  });
}

for (const [engine, open] of TEST_ENGINES) registryContract(engine, open);
