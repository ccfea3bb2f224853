import { safeEqual } from '../crypto/hash.js';
import { matchTotp } from '../otp/totp.js';
import type { Decision } from '../challenge/types.js';
import type { Device } from '../devices/types.js';
import type { ApprovalErrorCode, ResponseClaims, Verdict, VerifyResponseInput } from './types.js';
import { inspectHeader, isInteger, verifyJwt } from './jws.js';

/**
 * Verifies a device's signed answer to a push challenge (docs/device-api.md section 4). Pure: it
 * reads only its input and stores nothing (the SimpleWebAuthn pattern). The caller then resolves the
 * challenge once, atomically, and records `step` as the device's last TOTP step.
 *
 * The checks run in the documented order. Everything that needs no secret (format, algorithm,
 * device) comes first; nothing about the challenge is revealed before the signature holds.
 */

export const RESPONSE_TYP = 'pushotp-response+jwt';
/** docs/device-api.md "Timings": the answer's `iat` may be 60 s off the server's clock. */
export const RESPONSE_MAX_SKEW_MS = 60_000;

const STATUS: Partial<Record<ApprovalErrorCode, number>> = {
  challenge_not_found: 404,
  wrong_user: 403,
  challenge_resolved: 409,
  challenge_expired: 410,
};

type Refusal = Extract<Verdict, { ok: false }>;

function refuse(code: ApprovalErrorCode, description: string): Refusal {
  return { ok: false, code, status: STATUS[code] ?? 400, description };
}

const DECISIONS: readonly Decision[] = ['approve', 'deny', 'report'];

/**
 * The `number` claim as an integer: a JSON integer as it is, or a string of 1 to 3 decimal digits
 * (what a typed field gives) read as the same integer; anything else (5.5, "-1", " 42", "0x2a") is
 * null. Number-matching numbers have two digits, so three are plenty.
 */
function readNumber(value: unknown): number | null {
  if (isInteger(value)) return value;
  if (typeof value === 'string' && /^[0-9]{1,3}$/.test(value)) return Number(value);
  return null;
}

/** Pure: the claims, when every one has the documented type (docs/device-api.md section 4); else which one is wrong, and how it should be. */
function readClaims(raw: Record<string, unknown>): ResponseClaims | string {
  const { cid, nonce, decision, otp, iat } = raw;
  if (typeof cid !== 'string' || cid.length === 0) return 'cid must be the challenge id, a string';
  if (typeof nonce !== 'string' || nonce.length === 0) return 'nonce must be the challenge\'s nonce, a string';
  if (typeof decision !== 'string' || !DECISIONS.includes(decision as Decision)) return `decision must be one of ${DECISIONS.join(', ')}`;
  const number = raw.number === undefined ? undefined : readNumber(raw.number);
  if (number === null) return 'number must be an integer (or a string of 1 to 3 digits)';
  // A string of digits only: a JSON number would lose the leading zeros of "012345".
  if (typeof otp !== 'string' || !/^(\d{6}|\d{8})$/.test(otp)) return 'otp must be a string of 6 (or 8) digits';
  if (!isInteger(iat)) return 'iat must be an integer, epoch seconds (a fractional NumericDate is refused)';
  return { cid, nonce, decision: decision as Decision, otp, iat, ...(number === undefined ? {} : { number }) };
}

export type SignedAnswer = { ok: true; claims: ResponseClaims; device: Device } | Refusal;

/**
 * Phase 1, everything up to and including the signature: format, algorithm, device, signature,
 * `typ`, claim types. Nothing before this line may cost the device anything (a rate-limit hit, a
 * passcode failure): whoever knows a device id could otherwise spend them for it.
 */
export async function verifySignedAnswer(input: Pick<VerifyResponseInput, 'jws' | 'device'> & { now?: number }): Promise<SignedAnswer> {
  const { jws, device } = input;
  const header = inspectHeader(jws);
  if (typeof header === 'string') return refuse('invalid_request', `the response is not a compact JWS we take: ${header}`);
  // RFC 8725 3.1: the algorithm is fixed, never taken from the token. This refuses `none` and
  // HS256 keyed with the public key (the classic key-confusion forgery) before any key is touched.
  if (header.alg !== 'ES256') return refuse('unsupported_alg', 'alg must be ES256');

  if (!device || device.id !== header.kid) return refuse('unknown_device', 'no device has this kid');
  if (device.status === 'revoked') return refuse('device_revoked', 'the device was revoked');

  // jose: the signature, a JSON object payload, `typ` (RFC 8725 3.11 explicit typing: a device-auth
  // JWS, docs/device-api.md section 2, is never taken for an answer), the claims present, `exp`/`nbf` if the device sent them.
  const verified = await verifyJwt(jws, device.publicJwk, {
    typ: RESPONSE_TYP, requiredClaims: ['cid', 'nonce', 'decision', 'otp', 'iat'], now: input.now ?? Date.now(),
  });
  if (!verified.ok) {
    const r = verified.refusal;
    if (r.kind === 'bad_signature') return refuse('invalid_signature', "the signature does not verify with the device's key");
    if (r.kind === 'bad_payload') return refuse('invalid_request', 'the payload is not a JSON object');
    if (r.kind === 'expired') return refuse('stale_response', 'the answer has expired (exp)');
    if (r.claim === 'typ') return refuse('invalid_request', `typ must be ${RESPONSE_TYP}`);
    return refuse('invalid_request', r.reason === 'missing' ? `the claim ${r.claim} is missing` : `the claim ${r.claim} is not valid`);
  }
  const raw = verified.claims as Record<string, unknown>;
  const claims = readClaims(raw);
  if (typeof claims === 'string') return refuse('invalid_request', claims);
  return { ok: true, claims, device };
}

/** Phase 2: what a signed answer means for this challenge, the TOTP last. */
export interface JudgeInput extends Omit<VerifyResponseInput, 'jws' | 'device'> {
  /** From verifySignedAnswer: the claims its signature covers, and the device that signed. */
  claims: ResponseClaims;
  device: Device;
}

export function judgeAnswer(input: JudgeInput): Verdict {
  const { claims, challenge, device, totpSecret, now } = input;
  if (!challenge || claims.cid !== challenge.id) return refuse('challenge_not_found', 'no such sign-in request');
  if (challenge.accountId !== device.accountId) return refuse('wrong_user', 'the sign-in request belongs to another user');
  if (!safeEqual(claims.nonce, challenge.nonce)) return refuse('nonce_mismatch', "the nonce is not the sign-in request's");
  if (Math.abs(claims.iat * 1000 - now) > RESPONSE_MAX_SKEW_MS) return refuse('stale_response', 'iat is more than 60 s from the server clock');

  // A challenge the store already marked expired (or withdrawn) is reported as expired, not as resolved.
  if (challenge.status === 'expired') return refuse('challenge_expired', 'the sign-in request has expired');
  if (challenge.status !== 'pending') return refuse('challenge_resolved', 'the sign-in request was already answered');
  if (now >= challenge.expiresAt) return refuse('challenge_expired', 'the sign-in request has expired');

  // RFC 6238 5.2: one step of drift either way, and a step is accepted once among the device's
  // own answers (typed passcodes keep a counter of their own).
  const totp = matchTotp(totpSecret, claims.otp, now, device.lastAnswerStep);
  if (!totp.ok) {
    return totp.reason === 'otp_replayed'
      ? refuse('otp_replayed', 'this one-time passcode was already used')
      : refuse('invalid_otp', 'the one-time passcode does not match');
  }

  const ok = { ok: true as const, decision: claims.decision, step: totp.step, claims };
  if (claims.decision === 'deny') return { ...ok, outcome: 'denied', reason: 'denied' };
  if (claims.decision === 'report') return { ...ok, outcome: 'denied', reason: 'reported' };
  if (challenge.matchNumber !== null) {
    if (claims.number === undefined) return refuse('number_required', 'number matching is on: send the chosen number');
    // A wrong pick is an answer, not a malformed request: it denies the sign-in (push-fatigue defence).
    if (claims.number !== challenge.matchNumber) return { ...ok, outcome: 'denied', reason: 'wrong_number' };
  }
  return { ...ok, outcome: 'approved', reason: null };
}

/** Both phases in the documented order (docs/device-api.md section 4). */
export async function verifyResponse(input: VerifyResponseInput): Promise<Verdict> {
  const signed = await verifySignedAnswer(input);
  if (!signed.ok) return signed;
  return judgeAnswer({ ...input, claims: signed.claims, device: signed.device });
}
