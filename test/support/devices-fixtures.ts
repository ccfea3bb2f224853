import { randomBytes } from 'node:crypto';
import type { AuditEvent, AuditLog } from '../../src/audit/types.js';
import { createSecretBox, type SecretBox } from '../../src/crypto/secretbox.js';
import type { Db } from '../../src/storage/db.js';
import { migrate } from '../../src/storage/migrations.js';
import { openPostgres } from '../../src/storage/postgres.js';
import { freshSchemaUrl } from './idp.js';
import { openScratchPglite } from './pglite-template.js';

/** A migrated database and how to throw it away. */
export interface TestDb {
  db: Db;
  close(): Promise<void>;
}

/** Embedded PGlite in a scratch folder (started from the initialised template). */
export async function openTestPglite(): Promise<TestDb> {
  const db = await openScratchPglite();
  await migrate(db);
  return { db, close: () => db.close() };
}

/** The real PostgreSQL server, in a fresh schema that is dropped afterwards (as test/storage does). */
export async function openTestPostgres(label: string): Promise<TestDb> {
  const schema = await freshSchemaUrl(`${label}_${Date.now()}_${randomBytes(3).toString('hex')}`);
  const db = openPostgres(schema.url);
  try {
    await migrate(db);
  } catch (err) {
    await db.close();
    await schema.drop();
    throw err;
  }
  return {
    db,
    async close() {
      await db.close();
      await schema.drop();
    },
  };
}

/** Both engines the product supports; contract suites run once per entry. */
export const TEST_ENGINES: ReadonlyArray<[name: string, open: () => Promise<TestDb>]> = [
  ['PGlite', openTestPglite],
  ['PostgreSQL', () => openTestPostgres('dev')],
];

/** An account row written directly: the devices feature only reads accounts. */
export async function createAccount(db: Db, username: string, opts: { disabled?: boolean } = {}): Promise<string> {
  const id = `acc_${randomBytes(8).toString('hex')}`;
  await db.query('INSERT INTO accounts (id, username, display_name, disabled) VALUES ($1, $2, $3, $4)',
    [id, username, `${username[0]!.toUpperCase()}${username.slice(1)} Example`, opts.disabled ?? false]);
  return id;
}

export function testSecretBox(): SecretBox {
  return createSecretBox([{ id: 'test1', key: randomBytes(32) }], 'test1');
}

/** An audit log that keeps what it is told, for assertions. */
export function memoryAudit(): AuditLog & { events: AuditEvent[] } {
  const events: AuditEvent[] = [];
  return { events, record: async (e) => { events.push(e); } };
}

/** A syntactically valid push subscription (a real P-256 point for p256dh). */
export async function fakePushSubscription(endpoint = `https://push.example.test/sub/${randomBytes(6).toString('hex')}`) {
  const pair = await globalThis.crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveBits']);
  const raw = Buffer.from(await globalThis.crypto.subtle.exportKey('raw', pair.publicKey));
  return { endpoint, keys: { p256dh: raw.toString('base64url'), auth: randomBytes(16).toString('base64url') } };
}

/** A P-256 public JWK as a device would send it. */
export async function fakePublicJwk() {
  const pair = await globalThis.crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const { kty, crv, x, y } = await globalThis.crypto.subtle.exportKey('jwk', pair.publicKey);
  return { kty: kty!, crv: crv!, x: x!, y: y! };
}
