import type { Db } from './db.js';

/**
 * The schema, as an ordered list of migrations applied at start on PostgreSQL and PGlite alike.
 * Never edit one that has shipped: add the next.
 */
export const migrations: readonly { id: number; name: string; sql: string }[] = [
  {
    id: 1,
    name: 'initial schema',
    sql: `
CREATE TABLE accounts (
  id            text PRIMARY KEY,
  username      text NOT NULL,
  display_name  text NOT NULL DEFAULT '',
  email         text,
  password_hash text,
  disabled      boolean NOT NULL DEFAULT false,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX accounts_username ON accounts (lower(username));

CREATE TABLE devices (
  id              text PRIMARY KEY,
  account_id      text NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name            text NOT NULL,
  public_jwk      jsonb NOT NULL,
  push            jsonb,
  push_status     text NOT NULL DEFAULT 'none',
  totp_secret_enc text NOT NULL,
  last_otp_step   bigint NOT NULL DEFAULT 0,
  status          text NOT NULL DEFAULT 'active',
  unlock          text NOT NULL DEFAULT 'none',
  webauthn        jsonb,
  created_at      timestamptz NOT NULL DEFAULT now(),
  last_used_at    timestamptz,
  revoked_at      timestamptz
);
CREATE INDEX devices_account ON devices (account_id);

CREATE TABLE enrollment_codes (
  code_hash   text PRIMARY KEY,
  account_id  text NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  created_by  text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz
);

CREATE TABLE keystore (
  name       text PRIMARY KEY,
  value      jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE oidc_payloads (
  model       text NOT NULL,
  id          text NOT NULL,
  payload     jsonb NOT NULL,
  grant_id    text,
  uid         text,
  user_code   text,
  expires_at  timestamptz,
  consumed_at timestamptz,
  PRIMARY KEY (model, id)
);
CREATE INDEX oidc_payloads_grant ON oidc_payloads (grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX oidc_payloads_uid ON oidc_payloads (uid) WHERE uid IS NOT NULL;
CREATE INDEX oidc_payloads_expires ON oidc_payloads (expires_at);

CREATE TABLE audit_events (
  id         bigserial PRIMARY KEY,
  at         timestamptz NOT NULL DEFAULT now(),
  type       text NOT NULL,
  account_id text,
  client_id  text,
  ip         text,
  detail     jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_events_account_at ON audit_events (account_id, at);
CREATE INDEX audit_events_at ON audit_events (at);
`,
  },
  {
    id: 2,
    name: 'recovery codes, separate replay counters, device cap',
    sql: `
-- RFC 6238 5.2 per channel: steps a device sends itself (answers, unregister) are accepted once
-- among those; last_otp_step keeps the typed passcodes, so the code an approval used stays typeable.
ALTER TABLE devices ADD COLUMN last_answer_step bigint NOT NULL DEFAULT 0;
UPDATE devices SET last_answer_step = last_otp_step;
CREATE INDEX devices_account_status ON devices (account_id, status);

-- One-time recovery codes, stored as SHA-256 only; a used one keeps its row (used_at) until replaced.
CREATE TABLE recovery_codes (
  account_id  text NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  code_hash   text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  used_at     timestamptz,
  PRIMARY KEY (account_id, code_hash)
);
`,
  },
  {
    id: 3,
    name: 'oidc artefacts under a hash of their id',
    // A copy of the database must hold no usable token (README.md, Security: stolen database): what the SQL adapter now
    // writes (src/oidc/adapters.ts storageKey), done to the rows already there. sha256() is built
    // into PostgreSQL >= 11 and PGlite. Anonymous sessions now live in Redis only; expired rows go.
    sql: `
DELETE FROM oidc_payloads WHERE (expires_at IS NOT NULL AND expires_at <= now()) OR (model = 'Session' AND payload->>'accountId' IS NULL);
UPDATE oidc_payloads SET
  id = encode(sha256(convert_to(id, 'UTF8')), 'hex'),
  user_code = CASE WHEN user_code IS NULL THEN NULL ELSE encode(sha256(convert_to(user_code, 'UTF8')), 'hex') END,
  payload = ((payload - 'jti') - 'userCode') #- '{session,cookie}'
`,
  },
  {
    id: 4,
    name: 'accounts.sessions_ended_at',
    // When the account's sessions were last ended (new password, disabled, revoked device, sign-out):
    // a session saved back by a request in flight at that moment still counts as ended.
    sql: `ALTER TABLE accounts ADD COLUMN sessions_ended_at timestamptz`,
  },
  {
    id: 5,
    name: 'recovery codes tied to the enrollment code they came with',
    // Before an account's first device the password alone may ask for an enrollment code (and its
    // recovery codes); the first enrollment keeps only the set that came with the code it used.
    sql: `ALTER TABLE recovery_codes ADD COLUMN batch text`,
  },
  {
    id: 6,
    name: 'federated identities',
    // An account's links to identities at trusted upstream issuers (MFA-only mode, docs/entra.md):
    // Entra's tenant issuer + object id (oid), a broker's iss + sub. One upstream identity, one account.
    sql: `
CREATE TABLE federated_identities (
  issuer      text NOT NULL,
  subject     text NOT NULL,
  account_id  text NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (issuer, subject)
);
CREATE INDEX federated_identities_account ON federated_identities (account_id)
`,
  },
  {
    id: 7,
    name: 'devices.enrolled_by',
    // Who issued the enrollment code a device was made with ('self:<account>' for /account, 'admin', ...):
    // the owner's first enrollment voids the pending devices /account's password-only session made.
    sql: `ALTER TABLE devices ADD COLUMN enrolled_by text`,
  },
];

/** Applies the migrations not yet applied, each in its own transaction, under an advisory lock. */
export async function migrate(db: Db): Promise<number[]> {
  return db.transaction(async (tx) => {
    // Several IdP processes may start at once against one PostgreSQL: one migrates, the others wait.
    // The ledger is created under the lock too: two CREATE TABLE IF NOT EXISTS at once on an empty
    // database both find it missing, and one fails (type "schema_migrations" already exists: CI,
    // three processes started together on Redis Sentinel).
    await tx.query('SELECT pg_advisory_xact_lock(7242001)');
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      id integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set((await tx.query<{ id: number }>('SELECT id FROM schema_migrations')).map((r) => r.id));
    const applied: number[] = [];
    for (const m of migrations) {
      if (done.has(m.id)) continue;
      for (const statement of m.sql.split(/;\s*\n/).map((s) => s.trim()).filter(Boolean)) {
        await tx.query(statement);
      }
      await tx.query('INSERT INTO schema_migrations (id, name) VALUES ($1, $2)', [m.id, m.name]);
      applied.push(m.id);
    }
    return applied;
  });
}
