import { afterAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../src/config/settings.js';
import { startTestIdp } from '../support/idp.js';
import { seedPglite } from '../support/pglite-template.js';
import { IDP_MAIN } from '../support/entry.js';

/**
 * Audit item 12: client files that pass our schema but that oidc-provider rejects used to start
 * the IdP, which then failed at the first sign-in with that app. Every client now goes through
 * oidc-provider's own validation at start, and the start stops naming the file and the field.
 */
const app = { client_id: 'bad', redirect_uris: ['https://app.example/cb'] };

describe('client files that oidc-provider refuses stop the start', () => {
  it.each([
    ['client_credentials in grant_types', { grant_types: ['authorization_code', 'client_credentials'] }, 'grant_types'],
    ['a PS256 ID token (not an enabled algorithm)', { id_token_signed_response_alg: 'PS256' }, 'id_token_signed_response_alg'],
    ['the "code id_token" response type (not enabled)', { response_types: ['code id_token'] }, 'response_types'],
    ['implicit with an http redirect URI', { grant_types: ['implicit'], response_types: ['id_token'], redirect_uris: ['http://app.example/cb'] }, 'redirect_uris'],
    ['private_key_jwt without keys', { token_endpoint_auth_method: 'private_key_jwt' }, 'jwks_uri'],
  ])('refuses %s, naming the file and the field', async (_name, extra, field) => {
    const start = startTestIdp({ storage: 'postgres', clients: [{ ...app, ...extra }] });
    await expect(start).rejects.toBeInstanceOf(ConfigError);
    await expect(start).rejects.toMatchObject({
      field,
      source: expect.stringMatching(/clients\/bad\.json$/),
      message: expect.stringMatching(new RegExp(`clients/bad\\.json: ${field}: refused by oidc-provider: `)),
    });
  });

  it('still starts with the clients it accepts', async () => {
    const t = await startTestIdp({ storage: 'postgres', clients: [{ ...app, grant_types: ['authorization_code', 'refresh_token'], id_token_signed_response_alg: 'ES256' }] });
    await t.close();
  });

  const root = mkdtempSync(path.join(os.tmpdir(), 'client-rules-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('exits with code 2 and the message, as an operator sees it', async () => {
    await seedPglite(path.join(root, 'data', 'pg'));
    const config = path.join(root, 'config');
    mkdirSync(path.join(config, 'clients'), { recursive: true });
    const file = path.join(config, 'clients', 'bad.json');
    writeFileSync(file, JSON.stringify({ ...app, id_token_signed_response_alg: 'PS256' }));
    const r = spawnSync(process.execPath, [IDP_MAIN], {
      env: { ...process.env, CONFIG_DIR: config, DATA_DIR: path.join(root, 'data'), PORT: '0', NODE_OPTIONS: '', DATABASE_URL: '', REDIS_URL: '' },
      encoding: 'utf8', timeout: 60_000,
    });
    expect(r.stderr).toContain(`Configuration error: ${file}: id_token_signed_response_alg: refused by oidc-provider: id_token_signed_response_alg must be`);
    expect(r.status).toBe(2);
  });
});
