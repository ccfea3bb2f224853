import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from '@jest/globals';
import { DEFAULT_POLICY } from '../../src/config/clients.js';
import { ConfigError } from '../../src/config/settings.js';
import { createLogger } from '../../src/log.js';
import { clientFor, loadRadiusClients, parseRadiusClient } from '../../src/radius/clients.js';
import { createRadiusDoor } from '../../src/radius/index.js';
import type { ContinuationStore } from '../../src/signin/continuation.js';
import type { SignIn } from '../../src/signin/index.js';
import { startTestIdp } from '../support/idp.js';
import { newSecret } from './world.js';

/**
 * config/radius/*.json as an operator writes it: a mistake stops the start with a ConfigError
 * naming the file and the field, short or patterned shared secrets above all; a relaxed
 * Message-Authenticator setting starts with a warning.
 */
const SECRET = newSecret();
const env = { RADIUS_SECRET: SECRET };
const base = { name: 'vpn', address: '192.0.2.10', secretEnv: 'RADIUS_SECRET' };

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('RADIUS client files', () => {
  it('reads a minimal file with the safe defaults and the login policy of config/clients', () => {
    const c = parseRadiusClient('vpn.json', base, env);
    expect(c).toMatchObject({
      name: 'vpn', displayName: 'vpn', requireMessageAuthenticator: true, mode: 'challenge', maxWaitSeconds: 30, login: { ...DEFAULT_POLICY, noDevice: 'refuse' },
    });
    expect(c.secret.toString()).toBe(SECRET);
  });

  // A NAS cannot tell a password-only Accept from an MFA one (red-team: a minimal file let every
  // account without an authenticator onto the VPN with its password alone).
  it('refuses accounts without an authenticator unless the file lets them in, also when login is given without noDevice', () => {
    expect(parseRadiusClient('vpn.json', { ...base, login: { numberMatching: true } }, env).login.noDevice).toBe('refuse');
    expect(parseRadiusClient('vpn.json', { ...base, login: { noDevice: 'password-only' } }, env).login.noDevice).toBe('password-only');
  });

  it.each([
    ['a short secret', { RADIUS_SECRET: 'testing123' }, /at least 32 characters/],
    ['a patterned secret', { RADIUS_SECRET: 'ab'.repeat(20) }, /looks like a pattern/],
    ['an unset variable', {}, /RADIUS_SECRET is not set/],
  ])('refuses %s, naming the file and secretEnv', (_what, secrets, message) => {
    const err = configError(() => parseRadiusClient('config/radius/vpn.json', base, secrets));
    expect(err.source).toBe('config/radius/vpn.json');
    expect(err.field).toBe('secretEnv');
    expect(err.message).toMatch(message);
  });

  it.each([
    ['the secret in the file', { ...base, secret: SECRET }, 'secret', /never go in the file/],
    ['an address that is none', { ...base, address: '192.0.2.300' }, 'address', /not an IP address or CIDR/],
    ['a bad range in a list', { ...base, address: ['192.0.2.0/24', 'fd00::/200'] }, 'address.1', /not an IP address or CIDR/],
    ['an unknown field', { ...base, requireMessageAuth: false }, 'requireMessageAuth', /unknown field/],
    ['a typo in login', { ...base, login: { numberMatchng: true } }, 'login.numberMatchng', /unknown field/],
    ['a mode that does not exist', { ...base, mode: 'eap' }, 'mode', /./],
    ['a wait out of range', { ...base, maxWaitSeconds: 3600 }, 'maxWaitSeconds', /./],
    ['a display name with a bidi mark', { ...base, displayName: 'VPN\u200F' }, 'displayName', /bidi/],
    ['autoPush (a password without a passcode already sends a push)', { ...base, login: { autoPush: true } }, 'login.autoPush', /already sends a push/],
    ['single mode asking for number matching', { ...base, mode: 'single' }, 'login.numberMatching', /cannot show the user a number/],
  ])('refuses %s', (_what, file, field, message) => {
    const err = configError(() => parseRadiusClient('vpn.json', file, env));
    expect(err.field).toBe(field);
    expect(err.message).toMatch(message);
  });

  describe('a folder of files', () => {
    const dirs: string[] = [];
    const folder = (files: Record<string, unknown>) => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'radius-clients-'));
      dirs.push(dir);
      for (const [name, body] of Object.entries(files)) writeFileSync(path.join(dir, name), typeof body === 'string' ? body : JSON.stringify(body));
      return dir;
    };
    afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

    it('ignores the .example and reads the rest in order', () => {
      const dir = folder({ 'b.json': { ...base, name: 'b', address: '10.0.0.0/8' }, 'a.json': base, 'x.json.example': { nonsense: true } });
      expect(loadRadiusClients(dir, env).map((c) => c.name)).toEqual(['vpn', 'b']);
    });

    it('refuses a name or an address used twice, and broken JSON', () => {
      expect(configError(() => loadRadiusClients(folder({ 'a.json': base, 'b.json': { ...base, address: '10.1.1.1' } }), env)).field).toBe('name');
      expect(configError(() => loadRadiusClients(folder({ 'a.json': base, 'b.json': { ...base, name: 'other' } }), env)).message).toMatch(/already the address of/);
      expect(configError(() => loadRadiusClients(folder({ 'a.json': '{ nope' }), env)).field).toBe('(file)');
    });

    it('stops the IdP\'s start when RADIUS is on, and not when it is off', async () => {
      const configDir = mkdtempSync(path.join(os.tmpdir(), 'radius-config-'));
      dirs.push(configDir);
      mkdirSync(path.join(configDir, 'radius'));
      writeFileSync(path.join(configDir, 'radius', 'vpn.json'), JSON.stringify(base));
      await expect(startTestIdp({ env: { CONFIG_DIR: configDir, RADIUS_PORT: '1812', RADIUS_SECRET: 'short' } })).rejects.toThrow(/radius[/\\]vpn\.json: secretEnv: RADIUS_SECRET must be a random string of at least 32 characters/);
      const t = await startTestIdp({ env: { CONFIG_DIR: configDir, RADIUS_SECRET: 'short' } });
      expect(t.idp.radius.clients).toEqual([]);
      await t.close();
    });
  });

  it('finds a packet\'s client by the most specific range holding its source', () => {
    const site = parseRadiusClient('site.json', { ...base, name: 'site', address: '192.0.2.0/24' }, env);
    const gw = parseRadiusClient('gw.json', { ...base, name: 'gw', address: ['192.0.2.10', '2001:db8::10'] }, env);
    expect(clientFor([site, gw], '192.0.2.10')?.name).toBe('gw');
    expect(clientFor([gw, site], '192.0.2.10')?.name).toBe('gw');
    expect(clientFor([site, gw], '192.0.2.11')?.name).toBe('site');
    expect(clientFor([site, gw], '::ffff:192.0.2.10')?.name).toBe('gw'); // how a dual-stack socket reports it
    expect(clientFor([site, gw], '2001:db8::10')?.name).toBe('gw');
    expect(clientFor([site, gw], '198.51.100.1')).toBeNull();
  });

  it('warns at start about a client that may skip Message-Authenticator', async () => {
    const lines: string[] = [];
    const logger = createLogger('warn', new Writable({ write(chunk: Buffer, _e, done) { lines.push(chunk.toString()); done(); } }));
    const relaxed = parseRadiusClient('old.json', { ...base, requireMessageAuthenticator: false }, env);
    const door = createRadiusDoor({
      clients: [relaxed], signin: {} as SignIn, continuations: {} as ContinuationStore, replays: { first: async () => true, answered: async () => {}, forget: async () => {} }, challengeTtlSeconds: 120, logger, now: Date.now,
    });
    await door.listen(0, '127.0.0.1');
    await door.close();
    const warning = lines.map((l) => JSON.parse(l) as { msg: string; client: string }).find((l) => /BlastRADIUS/.test(l.msg));
    expect(warning).toMatchObject({ client: 'vpn' });
  });
});
