import type { Context } from 'koa';
import { ACCOUNT_POLICY } from '../../defences/throttle.js';
import { HttpError } from '../../http/errors.js';
import type { InteractionDeps } from '../deps.js';
import type { LoadedInteraction } from '../load.js';
import { SIGNIN_COUNTERS, signInKey } from '../state.js';
import { PASSCODE_MAX_FAILURES } from './limits.js';
import { withdrawChallenge } from './push.js';
import { checkCsrf, finishWithSecondFactor, requireFirstFactor } from './session.js';

/**
 * The way back in for a user who lost every authenticator: one of the one-time recovery codes
 * given at the first enrollment. It finishes the sign-in as a second factor (RFC 8176 `otp`: a
 * one-time secret), so the user can open /account and enroll a new phone; the password alone
 * never does. Wrong codes count toward the account's passcode limit, like wrong passcodes.
 */

const TOO_MANY_FOR_THIS_SIGNIN = 'Too many wrong codes. Go back to the app and sign in again.';

function render(ctx: Context, deps: InteractionDeps, it: LoadedInteraction, view: { noDevice: boolean; error: string | null }) {
  ctx.type = 'html';
  ctx.body = deps.views.render('recovery', {
    title: 'Use a recovery code', uid: it.uid, csrf: deps.csrf.token(it.uid), clientName: it.clientName, ...view,
  });
}

async function hasActiveDevice(deps: InteractionDeps, accountId: string): Promise<boolean> {
  return (await deps.secondFactor.devices.countActive(accountId)) > 0;
}

/** GET /interaction/:uid/recovery — also where a sign-in lands when every authenticator is gone. */
export async function getRecovery(ctx: Context, deps: InteractionDeps): Promise<void> {
  const { it, state } = await requireFirstFactor(ctx, deps);
  render(ctx, deps, it, { noDevice: !(await hasActiveDevice(deps, state.accountId)), error: null });
}

/** POST /interaction/:uid/recovery — one code, used once (atomically), then the sign-in finishes. */
export async function postRecovery(ctx: Context, deps: InteractionDeps): Promise<void> {
  const { it, state } = await requireFirstFactor(ctx, deps);
  checkCsrf(ctx, deps, it.uid);
  const raw = (ctx.request.body as Record<string, unknown>).code;
  if (typeof raw !== 'string' || raw.length > 64) throw new HttpError(400, 'invalid_request', 'The recovery code must be text of 16 letters and digits.');
  const noDevice = !(await hasActiveDevice(deps, state.accountId));
  // Reserved before the check, on the account and on this sign-in, like typed passcodes
  // (passcode.ts): parallel guesses are counted one after the other.
  const accountKey = `thr:otp:${state.accountId}`;
  const gate = await deps.throttle.reserve([{ key: accountKey, policy: ACCOUNT_POLICY }], {
    key: signInKey(it.uid), field: SIGNIN_COUNTERS.passcodeFailures, owner: state.accountId, max: PASSCODE_MAX_FAILURES,
  });
  if (!gate.allowed) {
    if (gate.reason === 'gone') throw new HttpError(400, 'session_not_found', 'Sign in with your password first. Go back to the app and start again.');
    if (gate.reason === 'cap') throw new HttpError(429, 'too_many_attempts', TOO_MANY_FOR_THIS_SIGNIN);
    const seconds = Math.ceil(gate.retryAfterMs / 1000);
    await deps.audit.record({ type: 'signin.throttled', accountId: state.accountId, clientId: it.clientId, ip: ctx.ip, detail: { factor: 'recovery_code', reason: gate.reason, retryAfterSeconds: seconds } });
    ctx.status = 429;
    ctx.set('Retry-After', String(seconds));
    const wait = seconds > 60 ? `${Math.ceil(seconds / 60)} minutes` : `${seconds} seconds`;
    return render(ctx, deps, it, { noDevice, error: `Too many wrong codes. Wait ${wait} and try again.` });
  }
  if (await deps.secondFactor.recovery.consume(state.accountId, raw)) {
    await deps.throttle.reset(accountKey);
    if (state.challengeId) await withdrawChallenge(deps.secondFactor, state.challengeId);
    const left = await deps.secondFactor.recovery.remaining(state.accountId);
    await deps.audit.record({ type: 'recovery_code.used', accountId: state.accountId, clientId: it.clientId, ip: ctx.ip, detail: { remaining: left } });
    return finishWithSecondFactor(ctx, deps, it, state, ['otp'], { via: 'recovery_code' });
  }
  // Wrong: the reservation stands as the failure, on the account and on this sign-in.
  const failures = gate.count;
  await deps.audit.record({ type: 'signin.recovery_code.failure', accountId: state.accountId, clientId: it.clientId, ip: ctx.ip, detail: { failures } });
  if (failures >= PASSCODE_MAX_FAILURES) {
    await deps.signins.delete(it.uid);
    throw new HttpError(429, 'too_many_attempts', TOO_MANY_FOR_THIS_SIGNIN);
  }
  ctx.status = 401;
  render(ctx, deps, it, { noDevice, error: 'That recovery code is not right, or it was already used.' });
}
