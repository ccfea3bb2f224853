import { afterAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadClients } from '../../src/config/clients.js';
import { ConfigError, loadSettings } from '../../src/config/settings.js';
import { IDP_MAIN } from '../support/entry.js';

/**
 * An operator registers apps in files under config/clients/. A mistake must stop the start with a
 * message naming the file and the field, never start half-configured; secrets come from the
 * environment, never from the file.
 */
const root = mkdtempSync(path.join(os.tmpdir(), 'clients-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
function dirWith(files: Record<string, unknown>): string {
  const dir = path.join(root, String(n++));
  mkdirSync(dir);
  for (const [name, content] of Object.entries(files)) writeFileSync(path.join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
  return dir;
}
const good = { client_id: 'wiki', client_name: 'Wiki', client_secret_env: 'WIKI_SECRET', redirect_uris: ['https://wiki.example/cb'] };
const secret = { WIKI_SECRET: 's'.repeat(40) };
const failure = (dir: string, env: Record<string, string> = secret) => {
  try {
    loadClients(dir, 'https://idp.example', env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('client files', () => {
  it('loads a valid file, takes the secret from the environment and fills the login policy defaults', () => {
    const [c] = loadClients(dirWith({ 'wiki.json': good }), 'https://idp.example', secret);
    expect(c!.metadata).toMatchObject({ client_id: 'wiki', client_secret: 's'.repeat(40), token_endpoint_auth_method: 'client_secret_basic' });
    expect(c!.login).toMatchObject({ form: 'two-step', numberMatching: true, noDevice: 'password-only', consent: 'explicit' });
  });

  it('replaces ${ISSUER} and treats a file without a secret as a public client', () => {
    const [c] = loadClients(dirWith({ 'spa.json': { client_id: 'spa', redirect_uris: ['${ISSUER}/cb'] } }), 'https://idp.example', {});
    expect(c!.metadata).toMatchObject({ redirect_uris: ['https://idp.example/cb'], token_endpoint_auth_method: 'none' });
  });

  it.each([
    ['broken JSON', { 'a.json': '{ "client_id": ' }, '(file)'],
    ['a bad redirect URI', { 'a.json': { ...good, redirect_uris: ['not a url'] } }, 'redirect_uris.0'],
    ['a missing client_id', { 'a.json': { ...good, client_id: undefined } }, 'client_id'],
    ['an unknown field (a typo)', { 'a.json': { ...good, redirect_uri: 'https://x' } }, 'redirect_uri'],
    ['a secret written in the file', { 'a.json': { ...good, client_secret: 'oops' } }, 'client_secret'],
    ['a bad login form', { 'a.json': { ...good, login: { form: 'three-step' } } }, 'login.form'],
    ['a duplicate client_id', { 'a.json': good, 'b.json': good }, 'client_id'],
    // What the phone shows beside the name must read as it is (red-team: a bidi override reversed it).
    ['a client_name with a bidi override', { 'a.json': { ...good, client_name: 'Payroll \u202Enoitacilppa' } }, 'client_name'],
    ['a client_name with a line break', { 'a.json': { ...good, client_name: 'Wiki\nApproved by IT' } }, 'client_name'],
    ['a client_name with a line separator', { 'a.json': { ...good, client_name: 'Wiki\u2028x' } }, 'client_name'],
    ['a client_name padded with blanks', { 'a.json': { ...good, client_name: 'Wiki\u3000\u3000' } }, 'client_name'],
    // A name of invisible characters asks "Are you signing in to ?" (red-team).
    ['a client_name of a zero-width space', { 'a.json': { ...good, client_name: '\u200B' } }, 'client_name'],
    ['a client_name of a Hangul filler', { 'a.json': { ...good, client_name: '\u3164' } }, 'client_name'],
    ['a client_name with a word joiner', { 'a.json': { ...good, client_name: 'Wi\u2060ki' } }, 'client_name'],
    // acr names that say nothing, or turn a bare phone approval into this app's mfa (red-team).
    ['the same acr for mfa and password', { 'a.json': { ...good, login: { acr: { mfa: 'urn:x:acr', password: 'urn:x:acr' } } } }, 'login.acr'],
    ['the phone-only acr as the mfa value', { 'a.json': { ...good, login: { acr: { mfa: 'urn:pushotp:acr:phone', password: 'urn:x:pwd' } } } }, 'login.acr'],
    // autoPush removes the two-step form's choice page; the single form has none to remove.
    ['autoPush on the single form', { 'a.json': { ...good, login: { form: 'single-form', autoPush: true } } }, 'login.autoPush'],
    ['autoPush not a boolean', { 'a.json': { ...good, login: { autoPush: 'yes' } } }, 'login.autoPush'],
    ['the phone-only acr as the password value', { 'a.json': { ...good, login: { acr: { mfa: 'urn:x:mfa', password: 'urn:pushotp:acr:phone' } } } }, 'login.acr'],
  ])('refuses %s, naming the file and the field', (_name, files, field) => {
    const dir = dirWith(files);
    const message = failure(dir);
    expect(message).toContain(dir);
    expect(message).toContain(`: ${field}:`);
  });

  it('takes login.autoPush on the two-step form, and leaves it off when absent', () => {
    const [on] = loadClients(dirWith({ 'a.json': { ...good, login: { autoPush: true } } }), 'https://idp.example', secret);
    expect(on!.login).toMatchObject({ form: 'two-step', autoPush: true });
    const [off] = loadClients(dirWith({ 'a.json': good }), 'https://idp.example', secret);
    expect(off!.login.autoPush).toBeUndefined();
  });

  it('refuses a secret variable that is unset or too short', () => {
    expect(failure(dirWith({ 'a.json': good }), {})).toContain('WIKI_SECRET is not set');
    expect(failure(dirWith({ 'a.json': good }), { WIKI_SECRET: 'short' })).toContain('at least 32 characters');
  });

  it('stops the server at start with the message and exit code 2', () => {
    const config = dirWith({});
    mkdirSync(path.join(config, 'clients'));
    writeFileSync(path.join(config, 'clients', 'bad.json'), JSON.stringify({ ...good, redirect_uris: [] }));
    const r = spawnSync(process.execPath, [IDP_MAIN], {
      env: { ...process.env, CONFIG_DIR: config, DATA_DIR: path.join(root, 'data'), PORT: '0', NODE_OPTIONS: '', ...secret },
      encoding: 'utf8', timeout: 60_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`Configuration error: ${path.join(config, 'clients', 'bad.json')}: redirect_uris:`);
  });
});

describe('settings from the environment', () => {
  it.each([
    ['PORT', 'http'], ['ISSUER', 'not a url'], ['PUSH_CHALLENGE_TTL', '5'], ['VAPID_SUBJECT', 'admin@example.com'],
    ['KEK', 'k1:tooshort'], ['DEVICE_UNLOCK', 'face'], ['PUSH_LIMIT', '0'],
  ])('refuses a bad %s', (name, value) => {
    expect(() => loadSettings({ [name]: value })).toThrow(expect.objectContaining({ field: name }) as unknown as Error);
  });
  it('defaults to the embedded, single-process setup with the demo', () => {
    const s = loadSettings({}, '/srv/idp');
    expect(s).toMatchObject({ port: 3000, issuer: 'http://localhost:3000', databaseUrl: null, redisUrl: null, dataDir: '/srv/idp/data', demo: true });
  });
});
