import { describe, expect, it } from '@jest/globals';
import { matchTotp, newTotpSecret, totpAt, totpStep, totpUri } from '../../src/otp/totp.js';

/** RFC 6238 Appendix B: the SHA-1 seed "12345678901234567890" (ASCII), in base32. */
const RFC_SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const RFC_VECTORS: [number, string][] = [
  [59, '94287082'],
  [1111111109, '07081804'],
  [1111111111, '14050471'],
  [1234567890, '89005924'],
  [2000000000, '69279037'],
  [20000000000, '65353130'],
];

describe('totpAt: RFC 6238 Appendix B vectors (SHA-1, 8 digits)', () => {
  it.each(RFC_VECTORS)('T = %i s gives %s', (seconds, code) => {
    expect(totpAt(RFC_SECRET, seconds * 1000, 8)).toBe(code);
  });

  it('6 digits are the last 6 of the 8 (RFC 4226 5.3 truncation)', () => {
    expect(totpAt(RFC_SECRET, 59_000)).toBe('287082');
    expect(totpAt(RFC_SECRET, 1111111109_000, 6)).toBe('081804');
  });

  it('keeps leading zeros', () => {
    expect(totpAt(RFC_SECRET, 1111111109_000, 8)).toHaveLength(8);
    expect(totpAt(RFC_SECRET, 1111111109_000, 8).startsWith('0')).toBe(true);
  });
});

describe('matchTotp: one step of drift, each step once (RFC 6238 5.2)', () => {
  const secret = newTotpSecret();
  const now = 1_764_370_015_000; // 15 s into a step
  const step = totpStep(now);

  it('accepts the current step and reports it', () => {
    expect(matchTotp(secret, totpAt(secret, now), now, 0)).toEqual({ ok: true, step });
  });

  it('accepts a phone one step behind or ahead', () => {
    expect(matchTotp(secret, totpAt(secret, now - 30_000), now, 0)).toEqual({ ok: true, step: step - 1 });
    expect(matchTotp(secret, totpAt(secret, now + 30_000), now, 0)).toEqual({ ok: true, step: step + 1 });
  });

  it('refuses two steps of drift either way', () => {
    expect(matchTotp(secret, totpAt(secret, now - 60_000), now, 0)).toEqual({ ok: false, reason: 'invalid_otp' });
    expect(matchTotp(secret, totpAt(secret, now + 60_000), now, 0)).toEqual({ ok: false, reason: 'invalid_otp' });
  });

  it('refuses the same step a second time', () => {
    const code = totpAt(secret, now);
    expect(matchTotp(secret, code, now, step)).toEqual({ ok: false, reason: 'otp_replayed' });
    expect(matchTotp(secret, code, now + 10_000, step)).toEqual({ ok: false, reason: 'otp_replayed' });
  });

  it('refuses an older step once a newer one was accepted', () => {
    expect(matchTotp(secret, totpAt(secret, now - 30_000), now, step)).toEqual({ ok: false, reason: 'otp_replayed' });
  });

  it('accepts the next step after the last accepted one', () => {
    expect(matchTotp(secret, totpAt(secret, now + 30_000), now + 30_000, step)).toEqual({ ok: true, step: step + 1 });
  });

  it("refuses another secret's code and malformed codes", () => {
    const other = newTotpSecret();
    expect(matchTotp(secret, totpAt(other, now), now, 0)).toEqual({ ok: false, reason: 'invalid_otp' });
    for (const code of ['', '12345', '1234567', '123456789', '12345a', ' 123456', '１２３４５６']) {
      expect(matchTotp(secret, code, now, 0)).toEqual({ ok: false, reason: 'invalid_otp' });
    }
  });

  it('accepts 8-digit codes (RFC vector at T = 59 s is step 1)', () => {
    expect(matchTotp(RFC_SECRET, '94287082', 59_000, 0)).toEqual({ ok: true, step: 1 });
    expect(matchTotp(RFC_SECRET, '94287082', 59_000, 1)).toEqual({ ok: false, reason: 'otp_replayed' });
  });
});

describe('newTotpSecret', () => {
  it('is 160 bits in base32 (32 characters, no padding) and fresh each time', () => {
    const a = newTotpSecret();
    expect(a).toMatch(/^[A-Z2-7]{32}$/);
    expect(newTotpSecret()).not.toBe(a);
  });
});

describe('totpUri', () => {
  it('builds an otpauth URI that third-party apps read', () => {
    const uri = totpUri({ secret: RFC_SECRET, issuer: 'Example IdP', label: 'alice@example.com' });
    expect(uri.startsWith('otpauth://totp/')).toBe(true);
    const url = new URL(uri);
    expect(decodeURIComponent(url.pathname)).toBe('/Example IdP:alice@example.com');
    expect(url.searchParams.get('secret')).toBe(RFC_SECRET);
    expect(url.searchParams.get('issuer')).toBe('Example IdP');
    expect(url.searchParams.get('algorithm')).toBe('SHA1');
    expect(url.searchParams.get('digits')).toBe('6');
    expect(url.searchParams.get('period')).toBe('30');
    expect(uri).not.toContain('+');
  });
});
