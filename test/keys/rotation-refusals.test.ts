import { afterAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadSettings } from '../../src/config/settings.js';
import { createCsrf } from '../../src/http/csrf.js';
import { loadProcessSecrets } from '../../src/keys/secrets.js';
import { IDP_MAIN } from '../support/entry.js';
import { freePort, freshSchemaUrl } from '../support/idp.js';
import { uniquePrefix } from '../support/env.js';
import { PushWorld } from '../support/push-world.js';

/**
 * Keys and secrets as an operator rotates them (docs/production.md). Red-team (rotation round):
 * - KEK with the old key dropped before `secrets rewrap`: the start went on (only the keys it reads at
 *   start were re-sealed by the new-first restart), then a sign-in with a passcode, the phones'
 *   answers and SAML's metadata answered 500. The start now refuses, naming what is sealed under which id.
 * - COOKIE_KEYS: CSRF tokens were made and checked under the first key only, so every form opened
 *   before a rotation's restart (or on an instance still on the old first key) was refused 403.
 * - DATA_DIR/secrets.json: a truncated file stopped the start with a stack trace; an empty list of
 *   cookie keys started, and every page that sets a cookie answered 500.
 * - KEK listing one id twice passed the settings check and died later with a stack trace.
 */
const run = promisify(execFile);
const dirs: string[] = [];
const dir = () => { const d = mkdtempSync(path.join(os.tmpdir(), 'rotation-')); dirs.push(d); return d; };
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
const kek = (id: string) => `${id}:${randomBytes(32).toString('base64')}`;

describe('KEK: the old key dropped before secrets rewrap', () => {
  let drop: () => Promise<void> = async () => {};
  afterAll(() => drop());

  it('refuses to start, naming what is still sealed under it; after rewrap with both listed, starts with the new one alone', async () => {
    const dataDir = dir();
    const [k1, k2] = [kek('k1'), kek('k2')];
    const schema = await freshSchemaUrl();
    drop = schema.drop;
    const common = { storage: 'postgres' as const, schema: schema.schema, dataDir, port: await freePort(), redisPrefix: uniquePrefix('rotkek') };
    const first = await PushWorld.start({ idp: { ...common, env: { KEK: k1 } } });
    await first.enrollPhone({ push: false });
    expect((await fetch(`${first.t.url}/saml/metadata`)).status).toBe(200); // the SAML key, made at first use
    await first.t.stop(); await first.pushService.close();
    // The docs' step 2: the new key first, the old one still listed (re-seals the keys read at start).
    const second = await PushWorld.start({ idp: { ...common, env: { KEK: `${k2},${k1}` } } });
    await second.t.stop(); await second.pushService.close();
    // The old key dropped without rewrap.
    await expect(PushWorld.start({ idp: { ...common, env: { KEK: k2 } } }))
      .rejects.toThrow(/KEK: the key-encryption key "k1", which KEK does not list, sealed the stored key "saml-signing-key" and the secret of 1 phone/);
    const env = { DATABASE_URL: schema.url, DATA_DIR: dataDir, KEK: `${k2},${k1}`, COOKIE_KEYS: 'c'.repeat(40) };
    const rewrap = await run(process.execPath, ['dist/src/cli/main.js', 'secrets', 'rewrap'], { env: { ...process.env, ...env, NODE_OPTIONS: '' }, encoding: 'utf8' });
    expect(rewrap.stdout).toMatch(/re-sealed 1 of 1 device secrets/);
    const third = await PushWorld.start({ idp: { ...common, env: { KEK: k2 } } });
    expect((await fetch(`${third.t.url}/saml/metadata`)).status).toBe(200);
    await third.t.stop(); await third.pushService.close();
  }, 120_000);

  it('a KEK listing one id twice is refused as a setting, before anything is opened', () => {
    expect(() => loadSettings({ KEK: `${kek('k1')},${kek('k1')}`, COOKIE_KEYS: 'x'.repeat(40) })).toThrow(/KEK.*k1 is listed twice/);
  });
});

describe('COOKIE_KEYS: CSRF tokens across a rotation', () => {
  const [A, B] = ['a'.repeat(40), 'b'.repeat(40)];
  it('made with the first key, taken under any listed key, refused once their key is gone', () => {
    const before = createCsrf([A]).token('interaction-1');
    expect(createCsrf([B, A]).valid('interaction-1', before)).toBe(true);
    expect(createCsrf([A, B]).valid('interaction-1', createCsrf([B, A]).token('interaction-1'))).toBe(true);
    expect(createCsrf([B]).valid('interaction-1', before)).toBe(false);
    expect(createCsrf([B, A]).valid('interaction-2', before)).toBe(false);
  });
});

describe('DATA_DIR/secrets.json', () => {
  it.each([
    ['truncated (a start stopped while writing it)', '{"cookieKeys":["'],
    ['with no cookie keys', JSON.stringify({ cookieKeys: [], kek: [{ id: 'k1', key: randomBytes(32).toString('base64') }] })],
    ['with a short cookie key', JSON.stringify({ cookieKeys: ['short'], kek: [{ id: 'k1', key: randomBytes(32).toString('base64') }] })],
    ['with a KEK id twice', JSON.stringify({ cookieKeys: ['c'.repeat(43)], kek: [{ id: 'k1', key: randomBytes(32).toString('base64') }, { id: 'k1', key: randomBytes(32).toString('base64') }] })],
  ])('%s: the start stops with one line naming the file, exit 2, nothing of it quoted', async (_name, content) => {
    const d = dir();
    writeFileSync(path.join(d, 'secrets.json'), content, { mode: 0o600 });
    const r = await run(process.execPath, [IDP_MAIN], { env: { ...process.env, DATA_DIR: d, PORT: '0', NODE_OPTIONS: '' }, encoding: 'utf8', timeout: 60_000 })
      .then(() => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => e);
    expect(r.code).toBe(2);
    // (Node 20 only: oidc-provider's own line about the runtime.)
    const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('oidc-provider WARNING'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^Configuration error: environment: DATA_DIR: .*secrets\.json /);
    expect(r.stderr).not.toMatch(/cookieKeys|short|"k1"/);
  }, 60_000);

  it('is written whole: a new folder gets the file and no partial copy beside it', () => {
    const d = dir();
    const made = loadProcessSecrets({ cookieKeys: null, kek: null, dataDir: d });
    expect(made.source).toBe('generated');
    expect(readdirSync(d)).toEqual(['secrets.json']);
    expect(loadProcessSecrets({ cookieKeys: null, kek: null, dataDir: d })).toEqual({ ...made, source: 'data folder' });
    expect(existsSync(path.join(d, 'secrets.json'))).toBe(true);
  });
});
