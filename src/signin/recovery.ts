import type { FinishResult } from './finish.js';
import { finishSecondFactor } from './finish.js';
import { afterRightGuess, afterWrongGuess, reserveGuess, type GuessRefusal } from './passcode.js';
import type { SignInDeps, Started } from './types.js';

/**
 * The way back in for a user who lost every authenticator: one of the one-time recovery codes
 * given at the first enrollment. It finishes the sign-in as a second factor (RFC 8176 `otp`: a
 * one-time secret), so the user can enroll a new phone; the password alone never does. Wrong
 * codes count toward the account's passcode limit, like wrong passcodes.
 */
export type RecoveryResult =
  | FinishResult
  | (GuessRefusal & { noDevice: boolean })
  | { kind: 'wrong'; noDevice: boolean };

/** Whether the account has no active authenticator left (the recovery page says so). */
export async function hasNoDevice(deps: Pick<SignInDeps, 'devices'>, accountId: string): Promise<boolean> {
  return (await deps.devices.countActive(accountId)) === 0;
}

/** One code, used once (atomically: RecoveryCodes.consume), then the sign-in finishes; given back if it does not. */
export async function useRecoveryCode(deps: SignInDeps, s: Started, code: string): Promise<RecoveryResult> {
  const noDevice = await hasNoDevice(deps, s.state.accountId);
  // Reserved before the check, on the account and on this sign-in, like typed passcodes.
  const gate = await reserveGuess(deps, s, 'recovery_code');
  if (!gate.ok) return { ...gate.refusal, noDevice };
  const { accountId } = s.state;
  if (await deps.recovery.consume(accountId, code)) {
    await afterRightGuess(deps, s, gate.accountKey);
    const result = await finishSecondFactor(deps, s, ['otp'], { via: 'recovery_code' });
    // A code is spent only by a sign-in it finished (red-team: of a double submit with two codes,
    // the one whose request found the sign-in already finished was used up and audited as used).
    if (result.kind !== 'finished') {
      await deps.recovery.giveBack(accountId, code);
      return result;
    }
    const left = await deps.recovery.remaining(accountId);
    await deps.audit.record({ type: 'recovery_code.used', accountId, clientId: s.requester.app.clientId, ip: s.requester.ip, detail: { remaining: left } });
    return result;
  }
  await deps.audit.record({ type: 'signin.recovery_code.failure', accountId, clientId: s.requester.app.clientId, ip: s.requester.ip, detail: { failures: gate.failures } });
  if (await afterWrongGuess(deps, s, gate.failures)) return { kind: 'locked-for-signin', noDevice };
  return { kind: 'wrong', noDevice };
}
