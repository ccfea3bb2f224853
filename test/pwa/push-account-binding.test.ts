import { describe, expect, it } from '@jest/globals';
import { accountForPush } from '../../pwa/src/payload.js';
import { accountKey } from '../../pwa/src/types.js';

/**
 * Red-team finding: the service worker trusted the issuer and device id a decrypted push named,
 * whichever registration it came to. Each IdP pushes to a registration of its own (its VAPID key),
 * so a second IdP the user added (or whoever holds its key) could show a request "for" an account
 * of the first, with its own app, place and address.
 */
describe('a push speaks only for an account of the registration it arrived on', () => {
  const main = 'https://idp.example/pwa/';
  const other = 'https://idp.example/pwa/k/3f2a/';
  const acct = (issuer: string, deviceId: string, scope: string | null) => ({ id: accountKey(issuer, deviceId), push: { status: scope ? 'active' as const : 'none' as const, endpoint: scope ? 'https://push.example/x' : null, scope } });
  const a = acct('https://a.example', 'dev_a', main);
  const b = acct('https://b.example', 'dev_b', other);
  const polling = acct('https://c.example', 'dev_c', null);
  const accounts = [a, b, polling];

  it('finds the named account on its own registration', () => {
    expect(accountForPush(accounts, { issuer: 'https://a.example', deviceId: 'dev_a' }, main)).toBe(a);
    expect(accountForPush(accounts, { issuer: 'https://b.example', deviceId: 'dev_b' }, other)).toBe(b);
  });

  it("answers 'elsewhere' for an account of another registration, or one without a subscription", () => {
    expect(accountForPush(accounts, { issuer: 'https://a.example', deviceId: 'dev_a' }, other)).toBe('elsewhere');
    expect(accountForPush(accounts, { issuer: 'https://b.example', deviceId: 'dev_b' }, main)).toBe('elsewhere');
    expect(accountForPush(accounts, { issuer: 'https://c.example', deviceId: 'dev_c' }, main)).toBe('elsewhere');
  });

  it('answers null for an account this phone does not hold', () => {
    expect(accountForPush(accounts, { issuer: 'https://a.example', deviceId: 'dev_zz' }, main)).toBeNull();
    expect(accountForPush(accounts, { issuer: 'https://a.example ', deviceId: 'dev_a' }, main)).toBeNull();
  });
});
