import { ENTRA_CLOUDS, type EntraCloud } from './config.js';
import type { Db } from '../storage/db.js';

/** An account's link to an identity at an upstream issuer (Entra: tenant issuer + object id). */
export interface FederatedLink {
  issuer: string;
  subject: string;
  accountId: string;
  createdAt: Date;
}

export interface FederatedLinks {
  find(issuer: string, subject: string): Promise<FederatedLink | null>;
  /** Creates the link; false when that upstream identity is already linked (to any account). */
  link(issuer: string, subject: string, accountId: string): Promise<boolean>;
  unlink(issuer: string, subject: string): Promise<boolean>;
  listByAccount(accountId: string): Promise<FederatedLink[]>;
}

interface Row { issuer: string; subject: string; account_id: string; created_at: Date | string }
const toLink = (r: Row): FederatedLink => ({ issuer: r.issuer, subject: r.subject, accountId: r.account_id, createdAt: new Date(r.created_at) });

/** The federated_identities table (migration 6). */
export function createFederatedLinks(db: Db): FederatedLinks {
  return {
    async find(issuer, subject) {
      const [row] = await db.query<Row>('SELECT * FROM federated_identities WHERE issuer = $1 AND subject = $2', [issuer, subject]);
      return row ? toLink(row) : null;
    },
    async link(issuer, subject, accountId) {
      const rows = await db.query('INSERT INTO federated_identities (issuer, subject, account_id) VALUES ($1, $2, $3) ON CONFLICT (issuer, subject) DO NOTHING RETURNING subject', [issuer, subject, accountId]);
      return rows.length === 1;
    },
    async unlink(issuer, subject) {
      return (await db.query('DELETE FROM federated_identities WHERE issuer = $1 AND subject = $2 RETURNING subject', [issuer, subject])).length === 1;
    },
    async listByAccount(accountId) {
      return (await db.query<Row>('SELECT * FROM federated_identities WHERE account_id = $1 ORDER BY created_at', [accountId])).map(toLink);
    },
  };
}

/** The issuer under which an Entra tenant's identities are linked (the tenant's cloud: global by default). */
export const entraIssuer = (tenantId: string, cloud: EntraCloud = 'global'): string => `${ENTRA_CLOUDS[cloud]}/${tenantId.toLowerCase()}/v2.0`;
