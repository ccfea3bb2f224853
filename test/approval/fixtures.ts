import type { JWK } from 'jose';
import { randomToken } from '../../src/crypto/hash.js';
import { newTotpSecret, totpStep } from '../../src/otp/totp.js';
import { verifyResponse } from '../../src/approval/verify-response.js';
import type { ResponseClaims, Verdict } from '../../src/approval/types.js';
import type { Challenge } from '../../src/challenge/types.js';
import type { Device } from '../../src/devices/types.js';
import { SimulatedAuthenticator } from '../support/authenticator.js';

/** Plain objects for the pure verifiers: no server, no store. A fixed clock, 15 s into a TOTP step. */
export const NOW = 1_764_370_015_000;
export const NOW_S = Math.floor(NOW / 1000);
export const ISSUER = 'https://idp.example.test';
export const AUDIENCE = `${ISSUER}/api/device`;

export interface Phone {
  auth: SimulatedAuthenticator;
  device: Device;
}

/** A phone (simulated authenticator, clock at `now`) and the device row the server would hold for it. */
export async function phone(accountId = 'acct_alice', device: Partial<Device> = {}, now = NOW): Promise<Phone> {
  const id = device.id ?? `dev_${randomToken(16)}`;
  const auth = await SimulatedAuthenticator.create({
    baseUrl: ISSUER, issuer: ISSUER, deviceId: id, totpSecret: newTotpSecret(), now: () => now,
  });
  return { auth, device: makeDevice(id, accountId, auth.publicJwk, device) };
}

export function makeDevice(id: string, accountId: string, publicJwk: JWK, overrides: Partial<Device> = {}): Device {
  return {
    id, accountId, name: 'Test phone', publicJwk, push: null, pushStatus: 'none', status: 'active', unlock: 'none', webauthn: null,
    lastOtpStep: totpStep(NOW) - 10, lastAnswerStep: totpStep(NOW) - 10, createdAt: new Date(NOW - 86_400_000), lastUsedAt: null, ...overrides,
  };
}

export function makeChallenge(overrides: Partial<Challenge> = {}): Challenge {
  return {
    id: `ch_${randomToken(16)}`, accountId: 'acct_alice', signInId: 'int_1', clientId: 'demo', appName: 'Demo App',
    nonce: randomToken(16), matchNumber: 42, numberChoices: [17, 42, 88], ip: '203.0.113.7', browser: 'Chrome on Linux',
    location: null, createdAt: NOW - 5_000, expiresAt: NOW + 115_000, status: 'pending', resolution: null, ...overrides,
  };
}

/** The honest answer the app would sign for `challenge`, with claim overrides. */
export function claimsFor(auth: SimulatedAuthenticator, challenge: Challenge, overrides: Partial<ResponseClaims> = {}): ResponseClaims {
  return {
    cid: challenge.id, nonce: challenge.nonce, decision: 'approve', otp: auth.currentTotp(), iat: NOW_S,
    ...(challenge.matchNumber === null ? {} : { number: challenge.matchNumber }), ...overrides,
  };
}

export async function verify(
  jws: string,
  p: Phone,
  challenge: Challenge | null,
  opts: { device?: Device | null; now?: number } = {},
): Promise<Verdict> {
  return verifyResponse({
    jws, challenge, device: opts.device === undefined ? p.device : opts.device, totpSecret: p.auth.totpSecret, now: opts.now ?? NOW,
  });
}

/** The error code of a refusal, or 'ok' (so a test states the exact outcome it expects). */
export function codeOf(verdict: Verdict): string {
  return verdict.ok ? 'ok' : verdict.code;
}

export function b64url(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}
