import { RESPONSE_TYP } from '../../src/device-api/contract.js';
import { ApiError, postResponse, type DeviceCredentials, type WebAuthnAssertion } from './api.js';
import { signJws } from './keys.js';
import type { Material } from './secrets.js';
import { reserveStep, updateAccount } from './store.js';
import { hotp, stepAt } from './totp.js';
import { phoneLanguages, pickLanguage, translator, type Translate } from './i18n.js';
import type { AccountRecord, AnswerResult, Decision, DeviceChallenge } from './types.js';

/** Answering a sign-in request (docs/device-api.md section 4), from the page or the service worker. */

export function credentials(account: AccountRecord, material: Material): DeviceCredentials {
  return { issuer: account.issuer, deviceId: account.deviceId, privateKey: material.privateKey };
}

export interface AnswerInput {
  account: AccountRecord;
  material: Material;
  challenge: Pick<DeviceChallenge, 'id' | 'nonce'>;
  decision: Decision;
  /** The number the user picked (number matching, approve only). */
  number?: number;
  webauthn?: WebAuthnAssertion;
  /** Told how many seconds the answer waits for a fresh TOTP step (a third answer within 30 s). */
  onWait?: (seconds: number) => void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Signs and sends the answer with a TOTP for step max(current, last used + 1). The IdP takes one
 * step either side of its clock and never a step twice per device (RFC 6238 5.2): a third answer
 * within one 30 s step waits for the clock to reach the step it was given.
 */
export async function answer(input: AnswerInput): Promise<AnswerResult> {
  const { account, material, challenge, decision } = input;
  for (let attempt = 0; ; attempt++) {
    const otp = await freshOtp(account, material, input.onWait);
    const claims: Record<string, unknown> = {
      cid: challenge.id,
      nonce: challenge.nonce,
      decision,
      ...(decision === 'approve' && input.number !== undefined ? { number: input.number } : {}),
      otp,
      iat: Math.floor(Date.now() / 1000),
    };
    const jws = await signJws(material.privateKey, { kid: account.deviceId, typ: RESPONSE_TYP }, claims);
    try {
      return await postResponse(account.issuer, challenge.id, jws, input.webauthn);
    } catch (err) {
      // Another answer (the service worker, another tab) may have used the step in between.
      if (err instanceof ApiError && err.code === 'otp_replayed' && attempt === 0) continue;
      await rememberRevocation(account, err);
      throw err;
    }
  }
}

/**
 * A TOTP for a request the device signs itself (an answer, unregistering): step max(current, last
 * used + 1), as the IdP takes each of these steps once per device. The IdP takes the step after its
 * current one and none further (docs/device-api.md section 4), so a reserved step more than one
 * ahead waits until the step before it begins. Red-team: with four answers at once (Deny on four
 * notifications) the fourth reserved T+3 but waited only for T+1, and its code was refused as a
 * wrong TOTP, which counts toward the account's passcode limit: seven quick Denies then held up the
 * user's own typed passcode.
 */
export async function freshOtp(account: AccountRecord, material: Material, onWait?: (seconds: number) => void): Promise<string> {
  const period = account.totp.period;
  const step = await reserveStep(account.id, stepAt(Date.now(), period));
  const usableFrom = (step - 1) * period * 1000;
  if (Date.now() < usableFrom) {
    onWait?.(Math.ceil((usableFrom - Date.now()) / 1000));
    // A timer may fire early (a throttled background page): wait until the step before has begun.
    while (Date.now() < usableFrom) await sleep(usableFrom - Date.now() + 50);
  }
  return hotp(material.totpKey, step, account.totp.digits);
}

/** device_revoked (401 from section 2, 400 from section 4): keep it, so the app offers to enroll again. */
export async function rememberRevocation(account: AccountRecord, err: unknown): Promise<boolean> {
  if (!(err instanceof ApiError) || err.code !== 'device_revoked') return false;
  await updateAccount(account.id, (a) => ({ ...a, revoked: true }));
  return true;
}

/** Words for a refusal, for the request page and the notification that replaces a failed one, in the phone's language. */
export function describeError(err: unknown, t: Translate = translator(pickLanguage(phoneLanguages()))): string {
  if (!(err instanceof ApiError)) return err instanceof Error ? err.message : String(err);
  const retry = err.retryAfterSeconds;
  switch (err.code) {
    case 'network_error':
    case 'challenge_expired':
    case 'challenge_resolved':
    case 'challenge_not_found':
    case 'already_reported':
    case 'challenge_not_denied':
    case 'device_revoked':
    case 'invalid_otp':
    case 'stale_response':
    case 'account_disabled':
      return t(`error.${err.code}`);
    case 'too_many_attempts':
      return retry ? t('error.too_many_attempts.minutes', { minutes: String(Math.ceil(retry / 60)) }) : t('error.too_many_attempts');
    case 'rate_limited':
      return retry ? t('error.rate_limited.seconds', { seconds: String(retry) }) : t('error.rate_limited');
    default:
      return t('error.other', { code: err.code });
  }
}
