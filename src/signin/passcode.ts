import { ACCOUNT_POLICY, PASSCODE_POLICY } from '../defences/throttle.js';
import { throttleKeys } from '../defences/throttle-keys.js';
import { finishSecondFactor, type FinishResult } from './finish.js';
import { PASSCODE_MAX_FAILURES } from './limits.js';
import { matchPasscode } from './passcode-match.js';
import { withdrawChallenge } from './resolution.js';
import { SIGNIN_COUNTERS, signInKey } from './state.js';
import type { SignInDeps, Started } from './types.js';

/** Why a guess was not checked, or how it failed; shared by typed passcodes and recovery codes. */
export type GuessRefusal =
  /** The sign-in's state is gone. */
  | { kind: 'gone' }
  /** PASSCODE_MAX_FAILURES reached in this sign-in: it must start over. */
  | { kind: 'locked-for-signin' }
  /**
   * The account's limit (like the password's): wait this long. `capped`: 100 wrong passcodes in a
   * row (PASSCODE_POLICY); they stay locked until an admin's `user unlock` or 30 days without a guess.
   */
  | { kind: 'throttled'; retryAfterSeconds: number; capped?: true };

export type PasscodeResult =
  | FinishResult
  | GuessRefusal
  | { kind: 'malformed' }
  | { kind: 'wrong'; replayed: boolean };

/** Pure: a typed passcode as the user may type it ("123 456"), or null when it is not 6 or 8 digits. */
export function normalisePasscode(raw: string): string | null {
  const passcode = raw.replace(/\s+/g, '');
  return /^(\d{6}|\d{8})$/.test(passcode) ? passcode : null;
}

/**
 * Guessing is counted per sign-in (PASSCODE_MAX_FAILURES) and per account like the password (a
 * new sign-in is free, so the per-sign-in count alone would allow endless guesses): a growing
 * delay, then a 15-minute lockout. Reserved before the check, so N parallel guesses are counted
 * one after the other and cannot all be checked. `factor` names it in the audit.
 */
export async function reserveGuess(deps: Pick<SignInDeps, 'throttle' | 'audit'>, s: Started, factor: 'otp' | 'recovery_code') {
  const accountKey = throttleKeys.passcodes(s.state.accountId);
  // Recovery codes (80 random bits) count on the same key but are not capped: a phone's owner
  // who lost it must not be locked out of them by someone holding the password.
  const policy = factor === 'otp' ? PASSCODE_POLICY : ACCOUNT_POLICY;
  const gate = await deps.throttle.reserve([{ key: accountKey, policy }], {
    key: signInKey(s.id), field: SIGNIN_COUNTERS.passcodeFailures, owner: s.state.accountId, max: PASSCODE_MAX_FAILURES,
  });
  if (gate.allowed) return { ok: true as const, accountKey, failures: gate.count };
  if (gate.reason === 'gone') return { ok: false as const, refusal: { kind: 'gone' } as GuessRefusal };
  if (gate.reason === 'cap') return { ok: false as const, refusal: { kind: 'locked-for-signin' } as GuessRefusal };
  const seconds = Math.ceil(('retryAfterMs' in gate ? gate.retryAfterMs : 0) / 1000); // no rate counter here: always a wait
  await deps.audit.record({ type: 'signin.throttled', accountId: s.state.accountId, clientId: s.requester.app.clientId, ip: s.requester.ip, detail: { factor, reason: gate.reason, retryAfterSeconds: seconds } });
  const capped = gate.reason === 'capped' ? { capped: true as const } : {};
  return { ok: false as const, refusal: { kind: 'throttled', retryAfterSeconds: seconds, ...capped } as GuessRefusal };
}

/** After a right guess: the account's count starts afresh, and a push still pending stands for nothing. */
export async function afterRightGuess(deps: SignInDeps, s: Started, accountKey: string): Promise<void> {
  await deps.throttle.reset(accountKey);
  // A push still pending for this sign-in would otherwise sit on the phone, approvable for nothing.
  if (s.state.challengeId) await withdrawChallenge(deps, { id: s.state.challengeId, accountId: s.state.accountId, clientId: s.requester.app.clientId });
}

/** After a wrong guess (its reservation stands as the failure): the last allowed one ends the sign-in. */
export async function afterWrongGuess(deps: SignInDeps, s: Started, failures: number): Promise<boolean> {
  if (failures < PASSCODE_MAX_FAILURES) return false;
  await endSignIn(deps, s);
  return true;
}

/** Ends a sign-in that will not finish, and withdraws the push it still had pending (red-team: left approvable). */
export async function endSignIn(deps: SignInDeps, s: Started): Promise<void> {
  await deps.states.delete(s.id);
  if (s.state.challengeId) await withdrawChallenge(deps, { id: s.state.challengeId, accountId: s.state.accountId, clientId: s.requester.app.clientId });
}

/**
 * A 6- or 8-digit TOTP from any of the user's active devices, one step of drift, each step once
 * per device (RFC 6238 5.2), at most PASSCODE_MAX_FAILURES tries.
 */
export async function checkPasscode(deps: SignInDeps, s: Started, typed: string): Promise<PasscodeResult> {
  const passcode = normalisePasscode(typed);
  if (!passcode) return { kind: 'malformed' };
  const gate = await reserveGuess(deps, s, 'otp');
  if (!gate.ok) return gate.refusal;
  // The active devices with their sealed secrets, in one query (was one per device, bench/README.md).
  const candidates = (await deps.devices.listTotpCandidates(s.state.accountId)).map((d) => ({
    deviceId: d.id, lastOtpStep: d.lastOtpStep, secret: deps.secretBox.open(d.sealedSecret, d.id),
  }));
  const match = matchPasscode(candidates, passcode, deps.now());
  if (match.ok && (await deps.devices.acceptOtpStep(match.deviceId, match.step))) {
    await afterRightGuess(deps, s, gate.accountKey);
    return finishSecondFactor(deps, s, ['otp'], { via: 'passcode', deviceId: match.deviceId });
  }
  await deps.audit.record({ type: 'signin.passcode.failure', accountId: s.state.accountId, clientId: s.requester.app.clientId, ip: s.requester.ip, detail: { failures: gate.failures } });
  if (await afterWrongGuess(deps, s, gate.failures)) return { kind: 'locked-for-signin' };
  return { kind: 'wrong', replayed: match.ok || match.reason === 'otp_replayed' };
}
