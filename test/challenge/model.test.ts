import { describe, expect, it } from '@jest/globals';
import { asSeenAt, effectiveStatus, newChallenge } from '../../src/challenge/model.js';
import { toDeviceView } from '../../src/device-api/challenge-view.js';
import { makeChallenge, seededRandom } from '../support/challenge-redis.js';

const T0 = 1_764_370_000_000;

describe('newChallenge', () => {
  it('makes unguessable ids and nonces: 128 bits, base64url, never repeated', () => {
    const ids = new Set<string>();
    const nonces = new Set<string>();
    for (let i = 0; i < 2_000; i++) {
      const ch = makeChallenge();
      for (const v of [ch.id, ch.nonce]) {
        expect(v).toMatch(/^[A-Za-z0-9_-]{22,}$/);
        expect(Buffer.from(v, 'base64url').length).toBeGreaterThanOrEqual(16);
      }
      ids.add(ch.id);
      nonces.add(ch.nonce);
    }
    expect(ids.size).toBe(2_000);
    expect(nonces.size).toBe(2_000);
  });

  it('offers three distinct 2-digit numbers, one of them the match number', () => {
    for (let i = 0; i < 2_000; i++) {
      const ch = makeChallenge();
      expect(ch.matchNumber).toBeGreaterThanOrEqual(10);
      expect(ch.matchNumber).toBeLessThanOrEqual(99);
      expect(ch.numberChoices).toHaveLength(3);
      expect(new Set(ch.numberChoices).size).toBe(3);
      for (const n of ch.numberChoices!) expect(Number.isInteger(n) && n >= 10 && n <= 99).toBe(true);
      expect(ch.numberChoices).toContain(ch.matchNumber);
    }
  });

  it('does not give the right number away by its position or its range', () => {
    const positions = [0, 0, 0];
    const seen = new Set<number>();
    const runs = 3_000;
    for (let i = 0; i < runs; i++) {
      const ch = makeChallenge();
      positions[ch.numberChoices!.indexOf(ch.matchNumber!)]! += 1;
      seen.add(ch.matchNumber!);
    }
    // Each position expects 1000; 850 is more than 5 standard deviations away.
    for (const p of positions) expect(p).toBeGreaterThan(850);
    expect(seen.size).toBe(90);
  });

  it('has no numbers when number matching is off, and sets the lifetime from the injected clock', () => {
    const ch = newChallenge({
      accountId: 'a', signInId: null, clientId: 'c', appName: 'App', ip: '198.51.100.1',
      browser: 'Firefox on Windows', location: 'Paris, France', numberMatching: false, ttlMs: 90_000, now: T0,
    });
    expect(ch).toMatchObject({ matchNumber: null, numberChoices: null, createdAt: T0, expiresAt: T0 + 90_000,
      status: 'pending', resolution: null, signInId: null, location: 'Paris, France' });
    expect(() => makeChallenge({ ttlMs: 0 })).toThrow(RangeError);
  });

  it('is deterministic under injected randomness', () => {
    const a = makeChallenge({ now: T0, random: seededRandom('s') });
    const b = makeChallenge({ now: T0, random: seededRandom('s') });
    const c = makeChallenge({ now: T0, random: seededRandom('t') });
    expect(a).toEqual(b);
    expect(a.id).not.toBe(c.id);
  });
});

describe('effectiveStatus and asSeenAt', () => {
  it('reads pending as expired from expiresAt on, and leaves resolved ones alone', () => {
    const ch = makeChallenge({ now: T0, ttlMs: 1_000 });
    expect(effectiveStatus(ch, T0 + 999)).toBe('pending');
    expect(effectiveStatus(ch, T0 + 1_000)).toBe('expired');
    expect(asSeenAt(ch, T0 + 999)).toBe(ch);
    expect(asSeenAt(ch, T0 + 1_000).resolution).toEqual(
      { status: 'expired', deviceId: null, decision: null, reason: 'expired', amr: [], at: T0 + 1_000 });
    const approved = { ...ch, status: 'approved' as const };
    expect(effectiveStatus(approved, T0 + 5_000)).toBe('approved');
    expect(asSeenAt(approved, T0 + 5_000)).toBe(approved);
  });
});

describe('toDeviceView', () => {
  it('has exactly the fields of docs/device-api.md section 3, and never the match number', () => {
    const ch = makeChallenge({ now: T0 });
    const view = toDeviceView(ch, T0 + 1);
    expect(Object.keys(view).sort()).toEqual(['app', 'bindingMessage', 'browser', 'createdAt', 'expiresAt', 'id', 'ip', 'location',
      'nonce', 'numberChoices', 'numberMatching', 'status'].sort());
    expect(view).toMatchObject({ id: ch.id, nonce: ch.nonce, app: 'Demo App', status: 'pending', numberMatching: true });
    expect(view.numberChoices).toEqual(ch.numberChoices);
    expect(JSON.stringify(view)).not.toMatch(/matchNumber|accountId|signInId|resolution/);
  });

  it("shows the phone the notification's words: no bidi override, line break or padding run from an app's name", () => {
    const ch = makeChallenge({ now: T0 });
    const odd = { ...ch, appName: `Payroll \u202Enoitacilppa\u202C\n${'\u3000'.repeat(40)}x`, browser: 'Chrome\r\nApproved', location: '\u2067Berlin\u2069', bindingMessage: 'A\u200E1' };
    const view = toDeviceView(odd, T0 + 1);
    expect(view).toMatchObject({ app: 'Payroll noitacilppa x', browser: 'Chrome Approved', location: 'Berlin', bindingMessage: 'A 1' });
    expect(toDeviceView({ ...ch, appName: 'x'.repeat(500) }, T0 + 1).app.length).toBeLessThanOrEqual(80);
  });

  it('shows a lapsed challenge as expired and a non-matching one without choices', () => {
    const ch = makeChallenge({ now: T0, ttlMs: 1_000, numberMatching: false });
    expect(toDeviceView(ch, T0 + 1_000)).toMatchObject({ status: 'expired', numberMatching: false, numberChoices: null });
  });
});
