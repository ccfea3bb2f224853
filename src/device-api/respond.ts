import type { RouterContext } from '@koa/router';
import type { Context } from 'koa';
import { readKid } from '../approval/verify-device-auth.js';
import { judgeAnswer, verifySignedAnswer } from '../approval/verify-response.js';
import { verifyWebAuthnAssertion, webauthnChallengeFor } from '../approval/verify-webauthn.js';
import type { Verdict } from '../approval/types.js';
import type { Challenge, Resolution } from '../challenge/types.js';
import { DeviceError } from '../devices/errors.js';
import { reserveDeviceOtp } from '../devices/otp-proof.js';
import { openTotpSecret } from '../devices/totp-secret.js';
import type { AnswerResult } from './contract.js';
import type { DeviceApiDeps } from './deps.js';
import { jsonBodyOf } from './http.js';
import { rateCounter, rateLimited, type RateLimit } from './rate-limit.js';
import { pushEndedWithSessions, SESSIONS_ENDED, withdrawChallenge } from '../signin/resolution.js';
import { CHALLENGE_ID, parseBody, responseBodySchema } from './validate.js';

/**
 * docs/device-api.md section 4, sign-in steps 7-8 (docs/architecture.md): verify the signature (pure), count the answer,
 * judge it (pure), accept its TOTP step once (PostgreSQL), resolve the challenge once (Redis),
 * then tell whoever waits.
 * Every refusal leaves the challenge untouched; the two atomic steps decide races.
 */

type Accepted = Extract<Verdict, { ok: true }>;

const AUDIT_TYPE = (v: Accepted): string =>
  v.decision === 'report' ? 'push.reported' : v.outcome === 'approved' ? 'push.approved' : 'push.denied';

const RESOLVE_REFUSAL = {
  already_resolved: () => new DeviceError('challenge_resolved', 409, 'the sign-in request was already answered'),
  expired: () => new DeviceError('challenge_expired', 410, 'the sign-in request has expired'),
  not_found: () => new DeviceError('challenge_not_found', 404, 'no such sign-in request'),
} as const;

export function respondHandler(deps: DeviceApiDeps, limit: RateLimit, now: () => number) {
  return async (ctx: RouterContext): Promise<void> => {
    const { response: jws, webauthn: assertion } = parseBody(responseBodySchema, jsonBodyOf(ctx));
    const kid = readKid(jws);
    // One query: the device, its sealed TOTP secret and its account's state (used below).
    const found = kid ? await deps.devices.getForAnswer(kid) : null;
    const signed = await verifySignedAnswer({ jws, device: found?.device ?? null, now: now() });
    if (!signed.ok) throw new DeviceError(signed.code, signed.status, signed.description);
    const { device } = signed;
    // The device key alone is no TOTP oracle: each answer's TOTP check is reserved on the account's
    // devices' limit before it is made, and after too many wrong ones no answer's TOTP is checked for
    // a while (docs/device-api.md section 4). The same script first counts the answer against the
    // device's rate limit: only once the device's key signed, as forged answers naming a device id
    // would otherwise spend its allowance and lock its real approval out.
    // The same script reads the challenge too (one round trip): what challenges.get would answer.
    const arrived = now();
    const id = ctx.params.id ?? '';
    const read = CHALLENGE_ID.test(id) ? deps.challenges.readBeside(id) : null;
    const otpAttempt = await reserveDeviceOtp(deps.throttle, device.accountId, {
      counter: rateCounter(`resp:${device.id}`, limit, arrived), refusal: () => rateLimited(limit, arrived),
    }, read ?? undefined);
    try {
      const at = now();
      const challenge = read ? read.challenge(otpAttempt.beside ?? [], at) : null;
      const totpSecret = await openTotpSecret(deps, device.id, found?.sealedSecret ?? null);
      const verdict = judgeAnswer({ claims: signed.claims, challenge, device, totpSecret, now: at });
      if (!verdict.ok) {
        if (verdict.code === 'invalid_otp') await otpAttempt.wrong();
        throw new DeviceError(verdict.code, verdict.status, verdict.description);
      }
      // judgeAnswer checked both; restated because resolving the wrong challenge would be a breach.
      if (!challenge || verdict.claims.cid !== id) throw RESOLVE_REFUSAL.not_found();
      if (challenge.accountId !== device.accountId) {
        throw new DeviceError('wrong_user', 403, 'the sign-in request belongs to another user');
      }
      // A disabled user's phone answers nothing: its approval would otherwise read as 'approved'.
      if (!found?.accountActive) throw new DeviceError('account_disabled', 403, 'this account is disabled');
      // Nor a request of a sign-in begun before the account's sessions ended (a new password, a
      // sign-out everywhere, a revoke): the end withdrew it, or it was made in the end's instant; no
      // door would finish it, so the phone is not told "approved" (red-team). It is withdrawn now.
      if (pushEndedWithSessions(challenge, found.account?.sessionsEndedAt?.getTime() ?? null)) {
        const resolution = async (_: unknown, r: Resolution) => { await deps.onResolved?.(challenge, r); };
        await withdrawChallenge({ challenges: deps.challenges, resolution, now }, challenge, SESSIONS_ENDED);
        throw RESOLVE_REFUSAL.expired();
      }

      // Under the WebAuthn unlock policy an approval must carry a user-verifying assertion bound to this
      // very challenge (W3C WebAuthn 7.2); then the tokens can honestly say `user` (RFC 8176).
      const userVerified = verdict.outcome === 'approved' && device.unlock === 'webauthn';
      if (userVerified) {
        if (!assertion || !device.webauthn) throw new DeviceError('user_verification_required', 400, 'an approval from this device must carry a WebAuthn assertion');
        const issuer = new URL(deps.issuer);
        const check = await verifyWebAuthnAssertion({
          assertion, credential: device.webauthn, expectedChallenge: webauthnChallengeFor(challenge.id, challenge.nonce),
          origin: issuer.origin, rpId: issuer.hostname,
        });
        if (!check.ok) throw new DeviceError('user_verification_failed', 400, `the WebAuthn assertion was refused: ${check.reason}`);
        // The counter is recorded once (compare-and-set): a second assertion with the same count is a clone's or a replay.
        if (!(await deps.devices.recordWebAuthnUse(device.id, check.newCounter, check.backedUp))) {
          throw new DeviceError('user_verification_failed', 400, 'the WebAuthn assertion was refused: the signature counter did not increase');
        }
      }

      // RFC 6238 5.2: of concurrent answers carrying the same step, exactly one gets past this line.
      // The counter is the device's answers' own: the code the phone shows stays typeable once, after
      // an approval and after a denial alike (a user who denied pushes they did not ask for signs in
      // with the code: "your passcodes still work"). The answer carries that code in clear, signed
      // but not sealed: device API bodies must be kept out of logs (docs/device-api.md). The
      // device's last use is recorded in the same statement.
      if (!(await deps.devices.acceptAnswerStep(device.id, verdict.step, new Date(at)))) {
        // Or the device stopped counting since it was read: revoked meanwhile (red-team: an answer
        // racing a revoke was told its passcode was used), or a pending one that may not confirm.
        const current = await deps.devices.get(device.id);
        if (current?.status !== 'active') throw new DeviceError('device_revoked', 400, 'the device was revoked');
        if (current.lastAnswerStep >= verdict.step) throw new DeviceError('otp_replayed', 400, 'this one-time passcode was already used');
        throw new DeviceError('device_revoked', 400, 'this device was never confirmed and stands for nothing now: enroll it again');
      }
      // A right, fresh TOTP: the devices' run of wrong ones ends (otp-proof.ts), in the resolve's own
      // script whatever its outcome; the finally's release is then moot.
      const reset = otpAttempt.rightWith();
      const resolution: Resolution = {
        status: verdict.outcome,
        deviceId: device.id,
        decision: verdict.decision,
        reason: verdict.reason,
        // RFC 8176: a one-time passcode and proof of a software-secured key; a denial proves nothing.
        amr: verdict.outcome === 'approved' ? ['otp', 'swk', ...(userVerified ? ['user'] : [])] : [],
        at,
      };
      const outcome = await deps.challenges.resolve(challenge.id, resolution, at, challenge, { reset });
      if (outcome !== 'resolved') throw RESOLVE_REFUSAL[outcome]();

      await afterResolved(deps, ctx, challenge, resolution, AUDIT_TYPE(verdict));
      const answer: AnswerResult = verdict.reason ? { status: verdict.outcome, reason: verdict.reason } : { status: verdict.outcome };
      ctx.body = answer;
    } finally {
      // Anything but a wrong TOTP (settled above) gives the reservation back.
      await otpAttempt.release();
    }
  };
}

/**
 * The challenge is resolved and published whatever happens here, so a failing audit or hook is
 * logged rather than turned into an error the phone would retry against a resolved challenge.
 */
export async function afterResolved(deps: DeviceApiDeps, ctx: Context, challenge: Challenge, resolution: Resolution, auditType: string, deviceId = resolution.deviceId!) {
  const steps: Array<() => Promise<unknown>> = [
    () => deps.audit.record({
      type: auditType, accountId: challenge.accountId, clientId: challenge.clientId, ip: ctx.ip,
      detail: { challengeId: challenge.id, deviceId, reason: resolution.reason, requesterIp: challenge.ip },
    }),
    () => deps.onResolved?.(challenge, resolution) ?? Promise.resolve(),
  ];
  for (const step of steps) {
    try {
      await step();
    } catch (err) {
      deps.log?.error({ err, challengeId: challenge.id }, 'after-resolution step failed');
    }
  }
}
