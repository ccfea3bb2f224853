import type { Context } from 'koa';
import { ACCOUNT_POLICY } from '../../defences/throttle.js';
import { HttpError } from '../../http/errors.js';
import type { InteractionDeps } from '../deps.js';
import type { LoadedInteraction } from '../load.js';
import { SIGNIN_COUNTERS, signInKey } from '../state.js';
import { PASSCODE_MAX_FAILURES } from './limits.js';
import { matchPasscode } from './passcode-match.js';
import { withdrawChallenge } from './push.js';
import { checkCsrf, finishWithSecondFactor, requireFirstFactor } from './session.js';

const tooManyPasscodes = (seconds: number) =>
  seconds > 60
    ? `Too many wrong passcodes. Passcodes are locked for ${Math.ceil(seconds / 60)} minutes: approve the request on your phone instead.`
    : `Too many wrong passcodes. Wait ${seconds} seconds and try again, or approve the request on your phone.`;

const TOO_MANY_FOR_THIS_SIGNIN = 'Too many wrong passcodes. Go back to the app and sign in again.';

function render(ctx: Context, deps: InteractionDeps, it: LoadedInteraction, error: string | null) {
  ctx.type = 'html';
  ctx.body = deps.views.render('passcode', { title: 'Enter a passcode', uid: it.uid, csrf: deps.csrf.token(it.uid), clientName: it.clientName, error });
}

/** GET /interaction/:uid/passcode — the fallback that always works: type the code the app shows. */
export async function getPasscode(ctx: Context, deps: InteractionDeps): Promise<void> {
  const { it } = await requireFirstFactor(ctx, deps);
  render(ctx, deps, it, null);
}

/**
 * POST /interaction/:uid/passcode — a 6- or 8-digit TOTP from any of the user's active devices,
 * one step of drift, each step once per device (RFC 6238 5.2), at most PASSCODE_MAX_FAILURES tries.
 */
export async function postPasscode(ctx: Context, deps: InteractionDeps): Promise<void> {
  const { it, state } = await requireFirstFactor(ctx, deps);
  checkCsrf(ctx, deps, it.uid);
  const raw = (ctx.request.body as Record<string, unknown>).passcode;
  if (typeof raw !== 'string' || raw.length > 16) throw new HttpError(400, 'invalid_request', 'The passcode must be text of 6 or 8 digits.');
  const passcode = raw.replace(/\s+/g, '');
  if (!/^(\d{6}|\d{8})$/.test(passcode)) {
    ctx.status = 400;
    return render(ctx, deps, it, 'A passcode has 6 or 8 digits.');
  }
  const sf = deps.secondFactor;
  // Guessing is counted per sign-in (PASSCODE_MAX_FAILURES) and per account like the password (a
  // new sign-in is free, so the per-sign-in count alone would allow endless guesses): a growing
  // delay, then a 15-minute lockout. Reserved before the check, so N parallel guesses are counted
  // one after the other and cannot all be checked.
  const accountKey = `thr:otp:${state.accountId}`;
  const gate = await deps.throttle.reserve([{ key: accountKey, policy: ACCOUNT_POLICY }], {
    key: signInKey(it.uid), field: SIGNIN_COUNTERS.passcodeFailures, owner: state.accountId, max: PASSCODE_MAX_FAILURES,
  });
  if (!gate.allowed) {
    if (gate.reason === 'gone') throw new HttpError(400, 'session_not_found', 'Sign in with your password first. Go back to the app and start again.');
    if (gate.reason === 'cap') throw new HttpError(429, 'too_many_attempts', TOO_MANY_FOR_THIS_SIGNIN);
    const seconds = Math.ceil(gate.retryAfterMs / 1000);
    await deps.audit.record({ type: 'signin.throttled', accountId: state.accountId, clientId: it.clientId, ip: ctx.ip, detail: { factor: 'otp', reason: gate.reason, retryAfterSeconds: seconds } });
    ctx.status = 429;
    ctx.set('Retry-After', String(seconds));
    return render(ctx, deps, it, tooManyPasscodes(seconds));
  }
  const devices = (await sf.devices.listByAccount(state.accountId)).filter((d) => d.status === 'active');
  const candidates = await Promise.all(devices.map(async (d) => ({
    deviceId: d.id, lastOtpStep: d.lastOtpStep, secret: sf.secretBox.open((await sf.devices.getTotpSecretSealed(d.id))!, d.id),
  })));
  const match = matchPasscode(candidates, passcode, sf.now());
  if (match.ok && (await sf.devices.acceptOtpStep(match.deviceId, match.step))) {
    await deps.throttle.reset(accountKey);
    // A push still pending for this sign-in would otherwise sit on the phone, approvable for nothing.
    if (state.challengeId) await withdrawChallenge(sf, state.challengeId);
    return finishWithSecondFactor(ctx, deps, it, state, ['otp'], { via: 'passcode', deviceId: match.deviceId });
  }
  // Wrong: the reservation stands as the failure, on the account and on this sign-in.
  const failures = gate.count;
  await deps.audit.record({ type: 'signin.passcode.failure', accountId: state.accountId, clientId: it.clientId, ip: ctx.ip, detail: { failures } });
  if (failures >= PASSCODE_MAX_FAILURES) {
    await deps.signins.delete(it.uid);
    throw new HttpError(429, 'too_many_attempts', TOO_MANY_FOR_THIS_SIGNIN);
  }
  ctx.status = 401;
  const replayed = match.ok || match.reason === 'otp_replayed';
  render(ctx, deps, it, replayed ? 'This passcode was already used. Wait for the next one and type it.' : 'That passcode is not right. Check the code in your authenticator app and try again.');
}
