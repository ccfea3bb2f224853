import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freshSchemaUrl } from '../support/idp.js';
import { ADMIN_CLI } from '../support/entry.js';

/** `npm run admin -- federation ...` as an operator runs it: links an Entra user (tid + oid) to an account. */
describe('admin CLI: federated identity links', () => {
  let schema: Awaited<ReturnType<typeof freshSchemaUrl>>;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'cli-fed-'));
  beforeAll(async () => { schema = await freshSchemaUrl(); });
  afterAll(async () => { await schema.drop(); rmSync(dataDir, { recursive: true, force: true }); });

  const cli = (args: string[]) => {
    const r = spawnSync(process.execPath, [ADMIN_CLI, ...args], {
      env: { ...process.env, DATABASE_URL: schema.url, DATA_DIR: dataDir, ISSUER: 'http://127.0.0.1:3999', NODE_OPTIONS: '' },
      encoding: 'utf8', timeout: 60_000,
    });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const TID = '72F988BF-86F1-41AF-91AB-2D7CD011DB47';
  const OID = '00000000-0000-0000-66f3-3332eca7ea81';

  it('links, lists, refuses a second link of the same identity, unlinks', () => {
    expect(cli(['user', 'create', 'dave', '--password', 'a long enough password 1']).code).toBe(0);
    expect(cli(['user', 'create', 'erin', '--password', 'a long enough password 2']).code).toBe(0);

    const linked = cli(['federation', 'link', 'dave', '--entra-tenant', TID, '--entra-oid', OID]);
    expect(linked.code).toBe(0);
    expect(linked.out).toContain(`linked https://login.microsoftonline.com/${TID.toLowerCase()}/v2.0 ${OID} to dave`);
    expect(cli(['federation', 'list', 'dave']).out).toContain(`https://login.microsoftonline.com/${TID.toLowerCase()}/v2.0\t${OID}`);

    const again = cli(['federation', 'link', 'erin', '--entra-tenant', TID, '--entra-oid', OID]);
    expect(again.code).toBe(65);
    expect(again.err).toContain('already linked to another user');
    expect(cli(['federation', 'list', 'erin']).out).toBe('');

    expect(cli(['federation', 'unlink', '--entra-tenant', TID, '--entra-oid', OID]).code).toBe(0);
    expect(cli(['federation', 'list', 'dave']).out).toBe('');
    expect(cli(['federation', 'unlink', '--entra-tenant', TID, '--entra-oid', OID]).code).toBe(65);
  });

  it('refuses what is not an identity', () => {
    expect(cli(['federation', 'link', 'dave', '--entra-tenant', 'contoso', '--entra-oid', OID]).code).toBe(64);
    expect(cli(['federation', 'link', 'dave']).code).toBe(64);
    expect(cli(['federation', 'link', 'nobody', '--issuer', 'https://kc.example/realms/x', '--subject', 's']).code).toBe(65);
    const broker = cli(['federation', 'link', 'dave', '--issuer', 'https://kc.example/realms/x', '--subject', 'f:1:dave']);
    expect(broker.code).toBe(0);
  });

  it('links a tenant of another Microsoft cloud under that cloud\'s issuer', () => {
    expect(cli(['user', 'create', 'gina', '--password', 'a long enough password 3']).code).toBe(0);
    const gov = cli(['federation', 'link', 'gina', '--entra-tenant', TID, '--entra-oid', OID, '--entra-cloud', 'usgov']);
    expect(gov.code).toBe(0);
    expect(gov.out).toContain(`linked https://login.microsoftonline.us/${TID.toLowerCase()}/v2.0 ${OID} to gina`);
    expect(cli(['federation', 'link', 'gina', '--entra-tenant', TID, '--entra-oid', OID, '--entra-cloud', 'mars']).code).toBe(64);
    expect(cli(['federation', 'link', 'gina', '--issuer', 'https://kc.example/realms/x', '--subject', 's', '--entra-cloud', 'usgov']).code).toBe(64);
  });
});
