import { afterAll, describe, expect, it } from '@jest/globals';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_MAX_WAIT_SECONDS, loadAgents } from '../../src/config/agents.js';
import { DEFAULT_ACR } from '../../src/config/clients.js';
import { ConfigError } from '../../src/config/settings.js';

/**
 * An operator registers gateways in files under config/agents/. A mistake stops the start with a
 * message naming the file and the field; the secret comes from the environment, is long, and
 * never sits in the file.
 */
const root = mkdtempSync(path.join(os.tmpdir(), 'agents-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
function dirWith(files: Record<string, unknown>): string {
  const dir = path.join(root, String(n++));
  mkdirSync(dir);
  for (const [name, content] of Object.entries(files)) writeFileSync(path.join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
  return dir;
}
const good = { id: 'vpn', name: 'Corporate VPN', secret_env: 'VPN_SECRET' };
const env = { VPN_SECRET: 'A'.repeat(40) };
const failure = (dir: string, e: Record<string, string> = env, taken: Map<string, string> = new Map()) => {
  try {
    loadAgents(dir, e, taken);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('gateway files (config/agents/*.json)', () => {
  it('loads a valid file: secret from the environment, single-form policy, MFA required by default', () => {
    const [a] = loadAgents(dirWith({ 'vpn.json': good }), env);
    expect(a).toMatchObject({ id: 'vpn', name: 'Corporate VPN', secret: 'A'.repeat(40), maxWaitSeconds: DEFAULT_MAX_WAIT_SECONDS, allowedNetworks: null });
    expect(a!.policy).toEqual({ form: 'single-form', numberMatching: true, noDevice: 'refuse', consent: 'explicit', acr: DEFAULT_ACR });
  });

  it('takes the login policy in the client files\' shape, and allowed networks', () => {
    const [a] = loadAgents(dirWith({ 'vpn.json': { ...good, login: { numberMatching: false, noDevice: 'password-only', acr: { mfa: 'urn:x:mfa', password: 'urn:x:pwd' } }, allowed_networks: ['10.0.0.0/8', '2001:db8::/32', '192.0.2.7'], max_wait_seconds: 90 } }), env);
    expect(a!.policy).toMatchObject({ numberMatching: false, noDevice: 'password-only', acr: { mfa: 'urn:x:mfa' } });
    expect(a!.allowedNetworks).toHaveLength(3);
    expect(a!.maxWaitSeconds).toBe(90);
  });

  it('the shipped example is valid once its variable is set', () => {
    const dir = dirWith({});
    copyFileSync(path.resolve('config/agents/example-vpn.json.example'), path.join(dir, 'example-vpn.json'));
    const [a] = loadAgents(dir, { VPN_GATEWAY_SECRET: 'b'.repeat(48) });
    expect(a!.id).toBe('vpn-gateway');
  });

  it.each([
    [{ ...good, secret: 'x'.repeat(40) }, /vpn\.json: secret: secrets never go in the file/],
    [{ ...good, secret_env: undefined }, /vpn\.json: secret_env:/],
    [{ ...good, id: 'has space' }, /vpn\.json: id: must be 1-128 URL-safe characters/],
    [{ ...good, name: '' }, /vpn\.json: name:/],
    [{ ...good, nmae: 'typo' }, /vpn\.json: nmae: unknown field/],
    [{ ...good, login: { form: 'two-step' } }, /vpn\.json: login\.form: a gateway posts the passcode with the password/],
    [{ ...good, login: { numberMatching: 'yes' } }, /vpn\.json: login\.numberMatching:/],
    [{ ...good, login: { autoPush: true } }, /vpn\.json: login\.autoPush: a gateway sends a push when the passcode is left out/],
    [{ ...good, max_wait_seconds: 0 }, /vpn\.json: max_wait_seconds:/],
    [{ ...good, max_wait_seconds: 100000 }, /vpn\.json: max_wait_seconds:/],
    [{ ...good, allowed_networks: ['10.0.0.0/33'] }, /vpn\.json: allowed_networks\.0: "10\.0\.0\.0\/33" is not an address or CIDR range/],
    [{ ...good, allowed_networks: [] }, /vpn\.json: allowed_networks:/],
  ])('refuses %j', (file, message) => {
    expect(failure(dirWith({ 'vpn.json': file }))).toMatch(message);
  });

  it('refuses a secret that is unset, short, or not token68', () => {
    const dir = dirWith({ 'vpn.json': good });
    expect(failure(dir, {})).toMatch(/vpn\.json: secret_env: environment variable VPN_SECRET is not set/);
    expect(failure(dir, { VPN_SECRET: 'x'.repeat(31) })).toMatch(/VPN_SECRET must be at least 32 characters/);
    expect(failure(dir, { VPN_SECRET: `${'x'.repeat(40)}:colon` })).toMatch(/VPN_SECRET must use only/);
  });

  it('refuses bad JSON, a duplicate id, and an id an OIDC client already has', () => {
    expect(failure(dirWith({ 'vpn.json': '{ nope' }))).toMatch(/vpn\.json: \(file\): not valid JSON/);
    expect(failure(dirWith({ 'a.json': good, 'b.json': good }))).toMatch(/b\.json: id: "vpn" is already registered by .*a\.json/);
    expect(failure(dirWith({ 'vpn.json': good }), env, new Map([['vpn', 'config/clients/vpn.json']]))).toMatch(/id: "vpn" is already registered by config\/clients\/vpn\.json/);
  });

  it('no folder means no gateways', () => {
    expect(loadAgents(path.join(root, 'absent'), env)).toEqual([]);
  });
});
