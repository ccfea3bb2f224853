import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createIdp } from '../../src/app.js';
import { loadAgents } from '../../src/config/agents.js';
import { loadClients } from '../../src/config/clients.js';
import { ConfigError, loadSettings } from '../../src/config/settings.js';
import { createLogger } from '../../src/log.js';

/**
 * Client and gateway files the start used to take while ignoring what they said (red-team, operator
 * round): an id the IdP registers itself (the file's login policy silently became the default), and
 * in production a redirect over plain http to another host (the code and the state in clear).
 */
const root = mkdtempSync(path.join(os.tmpdir(), 'clients-hardening-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
function dirWith(files: Record<string, unknown>): string {
  const dir = path.join(root, String(n++));
  mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) writeFileSync(path.join(dir, name), JSON.stringify(content));
  return dir;
}
const PROD = { NODE_ENV: 'production' };
const SECRET = { WIKI_SECRET: 's'.repeat(40) };
const publicClient = (extra: Record<string, unknown> = {}) => ({ client_id: 'wiki', redirect_uris: ['https://wiki.example.com/cb'], ...extra });
const refusal = (load: () => unknown) => {
  try {
    load();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
};
const clients = (content: Record<string, unknown>, env: Record<string, string> = {}) => {
  const dir = dirWith({ 'wiki.json': content });
  return { file: path.join(dir, 'wiki.json'), load: () => loadClients(dir, 'https://idp.example.com', { ...SECRET, ...env }) };
};

describe('ids the IdP registers itself', () => {
  it.each([
    ['a SAML service provider\'s internal client', 'saml.wiki', /ids starting with "saml\." are reserved for the SAML service providers/],
    ['the same, in capitals', 'SAML.Wiki', /ids starting with "saml\." are reserved/],
    ['the self-service console\'s client', 'account-console', /"account-console" is reserved for the self-service console/],
  ])('a client file may not take %s', (_what, id, message) => {
    const { file, load } = clients(publicClient({ client_id: id, login: { noDevice: 'refuse', form: 'single-form' } }));
    const err = refusal(load);
    expect(err.startsWith(`${file}: client_id: `)).toBe(true);
    expect(err).toMatch(message);
  });

  it.each(['saml.vpn', 'account-console'])('nor a gateway file (%s): gateways share the clients\' id space', (id) => {
    const dir = dirWith({ 'vpn.json': { id, name: 'VPN', secret_env: 'VPN_SECRET' } });
    const err = refusal(() => loadAgents(dir, { VPN_SECRET: 'A'.repeat(40) }));
    expect(err.startsWith(`${path.join(dir, 'vpn.json')}: id: `)).toBe(true);
    expect(err).toMatch(/reserved/);
  });

  it('ids that only look alike are fine', () => {
    expect(clients(publicClient({ client_id: 'samlwiki' })).load()).toHaveLength(1);
    expect(clients(publicClient({ client_id: 'wiki.saml' })).load()).toHaveLength(1);
    expect(clients(publicClient({ client_id: 'account-console-2' })).load()).toHaveLength(1);
  });
});

describe('NODE_ENV=production: no plain-http redirect to another host', () => {
  it.each([
    ['a public client\'s redirect URI', publicClient({ redirect_uris: ['https://wiki.example.com/cb', 'http://wiki.example.com/cb'] }), 'redirect_uris.1'],
    ['a post-logout redirect URI', publicClient({ post_logout_redirect_uris: ['http://wiki.example.com/'] }), 'post_logout_redirect_uris.0'],
    // OpenID Core 3.1.2.1 would allow it; the code and the state would still travel in clear.
    ['a confidential client\'s redirect URI', publicClient({ client_secret_env: 'WIKI_SECRET', redirect_uris: ['http://wiki.example.com/cb'] }), 'redirect_uris.0'],
    ['an http URI on a private address', publicClient({ redirect_uris: ['http://10.0.0.5/cb'] }), 'redirect_uris.0'],
    ['a jwks_uri the client\'s keys would be fetched from', publicClient({ token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'http://wiki.example.com/jwks' }), 'jwks_uri'],
  ])('refuses %s, naming the file and the field', (_what, content, field) => {
    const { file, load } = clients(content, PROD);
    const err = refusal(load);
    expect(err.startsWith(`${file}: ${field}: must be https when NODE_ENV=production`)).toBe(true);
    expect(err).toMatch(/http only on 127\.0\.0\.1, \[::1\] or localhost/);
    // The same file starts outside production (a development setup).
    expect(clients(content).load()).toHaveLength(1);
  });

  it('takes https, loopback http (RFC 8252 7.3) and a native app\'s private-use scheme', () => {
    const [c] = clients(publicClient({
      redirect_uris: ['https://wiki.example.com/cb', 'http://127.0.0.1:8080/cb', 'http://[::1]:8080/cb', 'http://localhost/cb', 'com.example.app:/cb'],
      post_logout_redirect_uris: ['https://wiki.example.com/', 'http://localhost:3000/'],
    }), PROD).load();
    expect(c!.metadata.redirect_uris).toHaveLength(5);
  });

  it('the start stops on it with a configuration error', async () => {
    const configDir = path.join(root, 'start-config');
    mkdirSync(path.join(configDir, 'clients'), { recursive: true });
    writeFileSync(path.join(configDir, 'clients', 'wiki.json'), JSON.stringify({ client_id: 'wiki', redirect_uris: ['http://wiki.example.com/cb'] }));
    const settings = loadSettings({ ...PROD, DEMO: '0', ISSUER: 'https://idp.example.com', DATA_DIR: path.join(root, 'start-data'), CONFIG_DIR: configDir });
    const err = await createIdp(settings, { logger: createLogger('silent') }).then(async (idp) => { await idp.close(); return null; }, (e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe(`${path.join(configDir, 'clients', 'wiki.json')}: redirect_uris.0: must be https when NODE_ENV=production (http only on 127.0.0.1, [::1] or localhost): codes and tokens would cross the network in clear (got http://wiki.example.com)`);
  });
});
