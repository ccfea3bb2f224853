import { afterAll, describe, expect, it } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { loadSettings } from '../../src/config/settings.js';
import { IDP_MAIN } from '../support/entry.js';

/**
 * What an operator can get wrong at start, as `npm start` answers it (red-team, README and
 * configuration round): each is one line, "Configuration error: <file or environment>: <field>:
 * why", exit 2, no stack trace, and no part of a secret. Before: a JSON syntax error quoted the text
 * around it (a secret written without quotes); a CONFIG_DIR that was not there started the IdP
 * with no apps and no word; a client file taking the demo app's id was oidc-provider's stack trace;
 * a port in use, a HOST not on this machine, a DATA_DIR that is a file or a GEOIP_DB that is not a
 * database were stack traces; an empty numeric setting read as 0 (muting and audit retention off).
 */
const root = mkdtempSync(path.join(os.tmpdir(), 'start-refusals-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
/** A configuration folder of our own: the demo's files and the given client files. */
function configWith(files: Record<string, string> = {}): string {
  const dir = path.join(root, `config-${++n}`);
  mkdirSync(path.join(dir, 'clients'), { recursive: true });
  cpSync(path.resolve('config/demo'), path.join(dir, 'demo'), { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

function start(env: Record<string, string>) {
  const r = spawnSync(process.execPath, [IDP_MAIN], {
    env: { ...process.env, NODE_OPTIONS: '', DATABASE_URL: '', REDIS_URL: '', DATA_DIR: path.join(root, `data-${++n}`), PORT: '0', CONFIG_DIR: configWith(), ...env },
    encoding: 'utf8', timeout: 60_000,
  });
  return { status: r.status, stderr: r.stderr };
}

const oneLine = (stderr: string) => {
  expect(stderr).not.toMatch(/\n\s+at /);
  return stderr.split('\n').filter((l) => l.startsWith('Configuration error: '));
};

describe('npm start refuses in one line', () => {
  it('a client file with a JSON syntax error names the file, and quotes none of its text', () => {
    const config = configWith({ 'clients/wiki.json': '{"client_id":"wiki","client_secret": hunter2-Supersecret-value-1234567890}' });
    const r = start({ CONFIG_DIR: config });
    expect(r.status).toBe(2);
    expect(oneLine(r.stderr)).toEqual([expect.stringMatching(/wiki\.json: \(file\): not valid JSON/)]);
    expect(r.stderr).not.toMatch(/hunter2|Supersec/);
  });

  it('a name given twice in one client file', () => {
    const config = configWith({ 'clients/wiki.json': JSON.stringify({ client_id: 'wiki' }).replace('}', ',"redirect_uris":["https://a.example/cb"],"redirect_uris":["https://b.example/cb"]}') });
    const r = start({ CONFIG_DIR: config });
    expect(r.status).toBe(2);
    expect(oneLine(r.stderr)).toEqual([expect.stringMatching(/wiki\.json: redirect_uris: is given twice/)]);
  });

  it('a JWKS_FILE with a syntax error next to a private key, without quoting it', () => {
    const file = path.join(root, 'keys.json');
    writeFileSync(file, '{"keys":[{"kty":"EC","d":PRIVATEKEYMATERIAL}]}');
    const r = start({ JWKS_FILE: file });
    expect(r.status).toBe(2);
    expect(oneLine(r.stderr)).toEqual([expect.stringMatching(/keys\.json: \(file\): not a readable JSON Web Key Set/)]);
    expect(r.stderr).not.toMatch(/PRIVATEKEY/);
  });

  it('a CONFIG_DIR that is not there, or is a file', () => {
    const file = path.join(root, 'a-file');
    writeFileSync(file, 'x');
    for (const dir of [path.join(root, 'no-such-config'), file]) {
      const r = start({ CONFIG_DIR: dir });
      expect(r.status).toBe(2);
      expect(oneLine(r.stderr)).toEqual([expect.stringMatching(/^Configuration error: environment: CONFIG_DIR: .* is not a folder/)]);
    }
  });

  it('a client file taking the demo app\'s id names the file and the field', () => {
    const config = configWith({ 'clients/mine.json': JSON.stringify({ client_id: 'demo-app', client_name: 'Mine', redirect_uris: ['http://localhost:9999/cb'], token_endpoint_auth_method: 'none' }) });
    const r = start({ CONFIG_DIR: config });
    expect(r.status).toBe(2);
    expect(oneLine(r.stderr)).toEqual([expect.stringMatching(/demo.*\.json: client_id: "demo-app" is already registered by .*mine\.json/)]);
  });

  it('a DATA_DIR that is a file, and a GEOIP_DB that is not a database', () => {
    const file = path.join(root, 'data-file');
    writeFileSync(file, 'x');
    const data = start({ DATA_DIR: file });
    expect(data.status).toBe(2);
    expect(oneLine(data.stderr)).toEqual([expect.stringMatching(/^Configuration error: environment: DATA_DIR: /)]);
    const geo = start({ GEOIP_DB: file });
    expect(geo.status).toBe(2);
    expect(oneLine(geo.stderr)).toEqual([expect.stringMatching(/^Configuration error: environment: GEOIP_DB: /)]);
  });

  it('a PORT already in use, and a HOST that is not an address of this machine', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as { port: number }).port;
    try {
      // Asynchronously: the busy port's server runs in this process.
      const r = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [IDP_MAIN], {
          env: { ...process.env, NODE_OPTIONS: '', DATABASE_URL: '', REDIS_URL: '', DATA_DIR: path.join(root, 'data-busy'), CONFIG_DIR: configWith(), HOST: '127.0.0.1', PORT: String(port) },
        });
        let stderr = '';
        child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
        child.on('close', (status) => resolve({ status, stderr }));
      });
      expect(r.status).toBe(2);
      expect(oneLine(r.stderr)).toEqual([`Configuration error: environment: PORT: 127.0.0.1:${port} is already in use`]);
    } finally {
      busy.close();
    }
    const away = start({ HOST: '192.0.2.77' });
    expect(away.status).toBe(2);
    expect(oneLine(away.stderr)).toEqual(['Configuration error: environment: HOST: 192.0.2.77 is not an address of this machine']);
  }, 60_000);
});

describe('numeric settings', () => {
  it('set but empty is the default, not 0 (an env file\'s PUSH_MUTE_AFTER_REPORT= kept muting on)', () => {
    const s = loadSettings({ PUSH_MUTE_AFTER_REPORT: '', AUDIT_RETENTION_DAYS: '', SHUTDOWN_GRACE: '' }, root);
    const defaults = loadSettings({}, root);
    expect([s.pushFatigue.muteMs, s.auditRetentionDays, s.shutdownGrace]).toEqual([defaults.pushFatigue.muteMs, defaults.auditRetentionDays, defaults.shutdownGrace]);
    expect(defaults.pushFatigue.muteMs).toBeGreaterThan(0);
  });

  it.each([['PUSH_LIMIT_WINDOW', '1e3'], ['PORT', '0x0BB8'], ['PORT', ' 3000'], ['SHUTDOWN_GRACE', '1.0'], ['PORT', '+3000']])('%s=%s is no whole number: refused', (name, value) => {
    expect(() => loadSettings({ [name]: value }, root)).toThrow(new RegExp(`^environment: ${name}: must be`));
  });
});
