import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createAccountStore, UsernameTakenError, type AccountStore } from '../../src/accounts/store.js';
import type { Db } from '../../src/storage/db.js';
import { migrate } from '../../src/storage/migrations.js';
import { openScratchPglite } from '../support/pglite-template.js';
import { openPostgres } from '../../src/storage/postgres.js';
import { freshSchemaUrl } from '../support/idp.js';

/** The account store's contract, on the embedded default and on the real PostgreSQL server. */
function accountStoreContract(name: string, open: () => Promise<{ db: Db; close(): Promise<void> }>) {
  describe(`account store contract: ${name}`, () => {
    let backend: Awaited<ReturnType<typeof open>>;
    let store: AccountStore;
    beforeAll(async () => { backend = await open(); store = createAccountStore(backend.db); });
    afterAll(() => backend.close());

    it('creates and finds accounts, usernames case-insensitively', async () => {
      const a = await store.create({ username: 'Alice', displayName: 'Alice A', email: 'a@example.com', passwordHash: 'h1' });
      expect(await store.findById(a.id)).toMatchObject({ username: 'Alice', displayName: 'Alice A', email: 'a@example.com', passwordHash: 'h1', disabled: false });
      expect((await store.findByUsername('alice'))!.id).toBe(a.id);
      expect(await store.findByUsername('nobody')).toBeNull();
      expect(await store.findById('00000000-0000-0000-0000-000000000000')).toBeNull();
    });

    it('refuses a username that differs only in case', async () => {
      await store.create({ username: 'bob' });
      await expect(store.create({ username: 'BOB' })).rejects.toBeInstanceOf(UsernameTakenError);
    });

    it('changes the password hash and the disabled flag, and lists without hashes', async () => {
      const c = await store.create({ username: 'carol', passwordHash: 'old' });
      expect(await store.setPasswordHash(c.id, 'new')).toBe(true);
      expect(await store.setDisabled(c.id, true)).toBe(true);
      expect(await store.findById(c.id)).toMatchObject({ passwordHash: 'new', disabled: true });
      expect(await store.setDisabled('00000000-0000-0000-0000-000000000000', true)).toBe(false);
      const listed = await store.list();
      expect(listed.map((a) => a.username)).toEqual(['Alice', 'bob', 'carol']);
      expect(listed.every((a) => !('passwordHash' in a))).toBe(true);
    });
  });
}

accountStoreContract('PGlite', async () => {
  const db = await openScratchPglite();
  await migrate(db);
  return { db, close: () => db.close() };
});
accountStoreContract('PostgreSQL', async () => {
  const schema = await freshSchemaUrl();
  const db = openPostgres(schema.url);
  await migrate(db);
  return { db, close: async () => { await db.close(); await schema.drop(); } };
});
