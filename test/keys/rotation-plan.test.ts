import { describe, expect, it } from '@jest/globals';
import type { JWK } from 'jose';
import { keyStatuses, nextChange, planSigningKeys, RotationPending, rotateSigningKeys, type StoredSigningKeys } from '../../src/keys/signing-rotation.js';

const key = (kid: string, alg: 'RS256' | 'ES256'): JWK => ({ kid, alg, kty: alg === 'RS256' ? 'RSA' : 'EC', use: 'sig', d: 'x' });
const H = 3_600_000;
const T0 = Date.UTC(2026, 0, 1);
const first: StoredSigningKeys = { keys: [key('rsa-1', 'RS256'), key('ec-1', 'ES256')] };
const rotated = rotateSigningKeys(first, [key('rsa-2', 'RS256'), key('ec-2', 'ES256')], T0, { activateAfterMs: 24 * H, retireAfterMs: 24 * H });
const state = (s: StoredSigningKeys, at: number) => Object.fromEntries(keyStatuses(s, at).map((k) => [k.kid, k.state]));
const kids = (s: StoredSigningKeys, at: number) => planSigningKeys(s, at).keys.map((k) => k.kid);

describe('signing-key rotation plan (pure)', () => {
  it('keys stored before rotation existed sign, forever', () => {
    expect(state(first, T0)).toEqual({ 'rsa-1': 'signing', 'ec-1': 'signing' });
    expect(kids(first, T0)).toEqual(['rsa-1', 'ec-1']);
    expect(nextChange(first, T0)).toBeNull();
  });

  it('publishes the next keys at once, after the signing ones, so they do not sign yet', () => {
    expect(state(rotated, T0)).toEqual({ 'rsa-1': 'signing', 'ec-1': 'signing', 'rsa-2': 'next', 'ec-2': 'next' });
    expect(kids(rotated, T0)).toEqual(['rsa-1', 'ec-1', 'rsa-2', 'ec-2']);
    expect(kids(rotated, T0 + 24 * H - 1)).toEqual(['rsa-1', 'ec-1', 'rsa-2', 'ec-2']);
    expect(nextChange(rotated, T0)).toBe(T0 + 24 * H);
  });

  it('signs with the next keys after the delay, keeping the old ones published', () => {
    expect(state(rotated, T0 + 24 * H)).toEqual({ 'rsa-1': 'retiring', 'ec-1': 'retiring', 'rsa-2': 'signing', 'ec-2': 'signing' });
    expect(kids(rotated, T0 + 24 * H)).toEqual(['rsa-2', 'ec-2', 'rsa-1', 'ec-1']);
    expect(nextChange(rotated, T0 + 24 * H)).toBe(T0 + 48 * H);
  });

  it('drops the old keys from the JWKS after the retire delay', () => {
    expect(kids(rotated, T0 + 48 * H)).toEqual(['rsa-2', 'ec-2']);
    expect(state(rotated, T0 + 48 * H)).toMatchObject({ 'rsa-1': 'retired', 'ec-1': 'retired' });
  });

  it('refuses a second rotation while the next keys do not sign yet, unless forced', () => {
    const fresh = [key('rsa-3', 'RS256'), key('ec-3', 'ES256')];
    expect(() => rotateSigningKeys(rotated, fresh, T0 + H, { activateAfterMs: 24 * H, retireAfterMs: 24 * H })).toThrow(RotationPending);
    const forced = rotateSigningKeys(rotated, fresh, T0 + H, { activateAfterMs: 24 * H, retireAfterMs: 24 * H, force: true });
    expect(state(forced, T0 + H)['rsa-3']).toBe('next');
  });

  it('a later rotation forgets retired keys and retires the signing ones', () => {
    const again = rotateSigningKeys(rotated, [key('rsa-3', 'RS256'), key('ec-3', 'ES256')], T0 + 50 * H, { activateAfterMs: 0, retireAfterMs: H });
    expect(again.keys.map((k) => k.kid)).toEqual(['rsa-2', 'ec-2', 'rsa-3', 'ec-3']);
    expect(state(again, T0 + 50 * H)).toEqual({ 'rsa-2': 'retiring', 'ec-2': 'retiring', 'rsa-3': 'signing', 'ec-3': 'signing' });
    expect(kids(again, T0 + 51 * H)).toEqual(['rsa-3', 'ec-3']);
  });
});
