import { afterAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadSettings } from '../../src/config/settings.js';
import { createLogger } from '../../src/log.js';
import { loadProcessSecrets } from '../../src/keys/secrets.js';
import { IDP_MAIN } from '../support/entry.js';

/**
 * Settings an operator can get wrong in ways the start used to let through (red-team, operator
 * round): a cookie key an attacker recovers from one signed cookie, a COOKIE_KEYS that names no key
 * (every cookie page a 500 while /readyz is green), an ISSUER that OpenID Discovery forbids, a
 * LOG_LEVEL pino does not know (its stack trace instead of a message). Each stops the start with
 * "environment: VARIABLE: why", whatever NODE_ENV says, and never prints the secret.
 */
const root = mkdtempSync(path.join(os.tmpdir(), 'settings-hardening-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const KEY = 'k'.repeat(43);
const refusal = (env: Record<string, string>) => {
  try {
    loadSettings(env, root);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
};
const modes = [['in development', {}], ['with NODE_ENV=production', { NODE_ENV: 'production', DEMO: '0', ISSUER: 'https://idp.example.com' }]] as const;

describe('COOKIE_KEYS', () => {
  it.each(modes)('refuses a key shorter than 32 characters %s, without printing it', (_mode, base) => {
    const one = refusal({ ...base, COOKIE_KEYS: 'x' });
    expect(one).toMatch(/^environment: COOKIE_KEYS: the key is shorter than 32 characters/);
    const second = refusal({ ...base, COOKIE_KEYS: `${KEY}, hunter2-cookie-key-31-characte` });
    expect(second).toMatch(/^environment: COOKIE_KEYS: key 2 of 2 is shorter than 32 characters/);
    expect(second).not.toContain('hunter2');
  });

  it.each(modes)('refuses a list of only commas and blanks %s, instead of starting with no key', (_mode, base) => {
    for (const raw of [',', ' , ', ' ', ',,,']) expect(refusal({ ...base, COOKIE_KEYS: raw })).toMatch(/^environment: COOKIE_KEYS: names no key/);
  });

  it('takes 32 characters or more, blanks around each dropped; empty is unset (the generated key is used)', () => {
    expect(loadSettings({ COOKIE_KEYS: ` ${KEY} , ${'n'.repeat(32)} ` }, root).cookieKeys).toEqual([KEY, 'n'.repeat(32)]);
    expect(loadSettings({ COOKIE_KEYS: '' }, root).cookieKeys).toBeNull();
  });

  it('the generated key (quickstart, npm start with no settings) meets the rule', () => {
    const settings = loadSettings({ DATA_DIR: path.join(root, 'quickstart') }, root);
    expect(settings.cookieKeys).toBeNull();
    const secrets = loadProcessSecrets(settings);
    expect(secrets.source).toBe('generated');
    const stored = JSON.parse(readFileSync(path.join(root, 'quickstart', 'secrets.json'), 'utf8')) as { cookieKeys: string[] };
    expect(loadSettings({ COOKIE_KEYS: stored.cookieKeys.join(',') }, root).cookieKeys).toEqual(secrets.cookieKeys);
  });

  it('an empty list from elsewhere falls back to the stored keys, never to no key', () => {
    const dataDir = path.join(root, 'fallback');
    const first = loadProcessSecrets({ cookieKeys: null, kek: null, dataDir });
    expect(loadProcessSecrets({ cookieKeys: [], kek: null, dataDir }).cookieKeys).toEqual(first.cookieKeys);
  });
});

describe('ISSUER', () => {
  it.each([
    ['a query', 'https://idp.example.com/?tenant=a', /no query \(\?\) or fragment/],
    ['an empty query', 'https://idp.example.com/oidc?', /no query \(\?\) or fragment/],
    ['a fragment', 'https://idp.example.com/#frag', /no query \(\?\) or fragment/],
    ['a user name and password', 'https://admin:hunter2@idp.example.com', /no user name or password/],
    ['a user name only', 'https://admin@idp.example.com/oidc', /no user name or password/],
    ['an empty user part', 'https://@idp.example.com', /no user name or password/],
    ['another scheme', 'ftp://idp.example.com', /https:\/\/ \(or http:\/\/\) URL/],
  ])('refuses %s', (_what, issuer, message) => {
    for (const [, base] of modes) {
      const err = refusal({ ...base, ISSUER: issuer });
      expect(err).toMatch(/^environment: ISSUER: /);
      expect(err).toMatch(message);
      expect(err).not.toContain('hunter2');
    }
  });

  it('takes a host, a port and a path, dropping a trailing slash; the default is http://localhost:$PORT', () => {
    expect(loadSettings({ ISSUER: 'https://idp.example.com:8443/tenant-a/' }, root).issuer).toBe('https://idp.example.com:8443/tenant-a');
    expect(loadSettings({ ISSUER: 'https://idp.example.com/users/@me' }, root).issuer).toBe('https://idp.example.com/users/@me');
    expect(loadSettings({ PORT: '4000' }, root).issuer).toBe('http://localhost:4000');
  });
});

describe('LOG_LEVEL', () => {
  it('refuses a level pino does not know with the usual message, naming the ones it takes', () => {
    expect(refusal({ LOG_LEVEL: 'warning' })).toBe('environment: LOG_LEVEL: must be fatal, error, warn, info, debug, trace or silent');
    expect(refusal({ LOG_LEVEL: '' })).toMatch(/^environment: LOG_LEVEL: must be/);
  });

  it('takes each of pino\'s levels, info by default, and the logger starts with it', () => {
    expect(loadSettings({}, root).logLevel).toBe('info');
    for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) {
      const s = loadSettings({ LOG_LEVEL: level }, root);
      expect(createLogger(s.logLevel).level).toBe(level);
    }
  });

  it('the server exits 2 with "Configuration error: environment: LOG_LEVEL", not a stack trace', () => {
    const dataDir = path.join(root, 'spawned');
    const r = spawnSync(process.execPath, [IDP_MAIN], {
      env: { ...process.env, NODE_OPTIONS: '', LOG_LEVEL: 'warning', DATA_DIR: dataDir, PORT: '0' },
      encoding: 'utf8', timeout: 60_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^Configuration error: environment: LOG_LEVEL: must be fatal, error, warn, info, debug, trace or silent$/m);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(path.join(dataDir, 'secrets.json'))).toBe(false);
  });
});
