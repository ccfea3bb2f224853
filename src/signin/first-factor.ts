import { checkPassword } from '../accounts/passwords.js';
import { ACCOUNT_POLICY, IP_POLICY } from '../defences/throttle.js';
import { throttleKeys } from '../defences/throttle-keys.js';
import { nextAfterPassword } from './next-step.js';
import { checkPasscode, type PasscodeResult } from './passcode.js';
import { sendPush, type PushOptions, type PushResult } from './push.js';
import type { Begun } from './state.js';
import { endSignIn } from './passcode.js';
import { withdrawChallenge } from './resolution.js';
import type { Login, SignInDeps, SignInRef } from './types.js';
import { attemptNetwork } from '../net/ip.js';

export interface PasswordInput {
  username: string;
  password: string;
  /** The single form's passcode field (empty or one character: push; 6 or 8 digits: a TOTP). */
  passcode?: string;
  /** How the door asks for the single form's push (a NAS without a screen: `numberScreen: false`). */
  push?: PushOptions;
}

export type PasswordResult =
  | { kind: 'missing' }
  | { kind: 'throttled'; retryAfterSeconds: number }
  /** Unknown user, wrong password or disabled account: one answer for all three. */
  | { kind: 'failed' }
  | { kind: 'finished'; login: Login }
  | { kind: 'refused'; reason: 'no_device' }
  | { kind: 'bad-passcode-format' }
  /** Every authenticator lost: a recovery code, or the admin's enrollment code. */
  | { kind: 'recover' }
  | { kind: 'choose-second-factor' }
  /** The single form asked for a push: this is how it went. */
  | { kind: 'push'; push: PushResult }
  /** The single form carried a passcode: this is how its check went. */
  | { kind: 'passcode'; passcode: PasscodeResult };

/** sign-in step 2 (docs/architecture.md) with a local password, then what comes next (next-step.ts decides). */
export async function passwordFirstFactor(deps: SignInDeps, ref: SignInRef, input: PasswordInput): Promise<PasswordResult> {
  const { username, password } = input;
  const { requester } = ref;
  const { app } = requester;
  if (!username || !password) return { kind: 'missing' };
  // The first factor's time is taken before the account is read: a new password or a sign-out
  // everywhere that lands while the old hash is being checked ends this sign-in (red-team: a loop
  // of sign-ins with the old password, timed then, kept a session made after set-password).
  const startedAt = deps.now();

  // Password guessing: counted per username (known or not, so the answer reveals nothing) and per
  // IP, reserved before the check: each attempt counts as a failure up front, atomically, so N
  // parallel guesses see 0, 1, ..., N-1 failures before them and cannot all pass the gate.
  // Keyed by the account the name finds, when it finds one: PostgreSQL's lower() folds more
  // spellings onto one account ("alİce" is alice) than toLowerCase() keeps apart, and each
  // spelling would otherwise count apart. An unknown name is keyed as that look-up folds it, so
  // its spellings share a count just as a known name's do (red-team: "mİra" then "mira" was
  // throttled only when the account existed, which told whether it did).
  // With its device counts, for what comes after a right password: one statement, not two.
  const { account, folded } = await deps.accounts.findForSignIn(username);
  const userKey = throttleKeys.password(account?.username ?? folded);
  const ipKey = `thr:ip:${attemptNetwork(requester.ip)}`; // an IPv6 client counts per /64
  const gate = await deps.throttle.reserve([{ key: userKey, policy: ACCOUNT_POLICY }, { key: ipKey, policy: IP_POLICY }]);
  if (!gate.allowed) {
    const waitMs = 'retryAfterMs' in gate ? gate.retryAfterMs : 0;
    const seconds = Math.ceil(waitMs / 1000); // no cap here: always a wait
    // Once per throttled username or address and wait (throttle-store.ts firstRefusal), not per request.
    if (await deps.throttle.firstRefusal([{ key: userKey, policy: ACCOUNT_POLICY }, { key: ipKey, policy: IP_POLICY }], waitMs)) {
      await deps.audit.record({ type: 'signin.throttled', clientId: app.clientId, ip: requester.ip, detail: { reason: gate.reason, retryAfterSeconds: seconds } });
    }
    return { kind: 'throttled', retryAfterSeconds: seconds };
  }

  const passwordOk = await checkPassword(account?.passwordHash ?? null, password);
  if (!account || !passwordOk || account.disabled) {
    // The reservation stands as the failure.
    await deps.audit.record({ type: 'signin.failure', accountId: account?.id ?? null, clientId: app.clientId, ip: requester.ip, detail: { factor: 'pwd' } });
    return { kind: 'failed' };
  }
  // Counted with the account (revoked devices too), so they answer both "now" and "ever".
  const next = nextAfterPassword({
    policy: app.policy,
    activeDevices: account.devices.active,
    everEnrolled: account.devices.ever > 0,
    passcode: app.policy.form === 'single-form' ? input.passcode : undefined,
  });
  // Right: the username starts afresh (as before), and the IP gets back the failure reserved. A
  // passcode sent with the password (the single form, a gateway, RADIUS's `password,code`) is part of
  // the one answer those doors give: the reservation is given back only when the passcode is right
  // too, so a right password with a wrong code counts as a failed attempt (red-team: the throttle on
  // the next attempt told a right password from a wrong one, with no push sent). A passcode that is
  // no passcode (the page says so) never reaches those doors: the agent API refuses it first, and
  // RADIUS reads it as part of the password. Otherwise the release is made by the state's write
  // below, in the same script (one round trip).
  const release = () => gate.release([ipKey], [userKey]);
  // Posting the password again on the same page must not reset this sign-in's push and passcode
  // limits (put keeps the counters while the account is the same), nor forget its pending push.
  const { dropped, ...state }: Begun = await deps.states.begin(ref.id, { accountId: account.id, firstFactor: { method: 'pwd', at: startedAt } }, ref.ttlSeconds,
    next.kind !== 'check-passcode' ? gate.releaseWith([ipKey], [userKey]) : undefined);
  // Another account's push this page had asked for stands for nothing now (red-team: left approvable).
  if (dropped) await withdrawChallenge(deps, { id: dropped.challengeId, accountId: dropped.accountId, clientId: app.clientId });

  switch (next.kind) {
    case 'finish-password-only':
      await endSignIn(deps, { ...ref, state });
      await deps.audit.record({ type: 'signin.success', accountId: account.id, clientId: app.clientId, ip: requester.ip, detail: { amr: ['pwd'] } });
      return { kind: 'finished', login: { accountId: account.id, amr: ['pwd'], acr: app.policy.acr.password, firstFactorAt: state.firstFactor.at } };
    case 'refuse-no-device':
      await deps.audit.record({ type: 'signin.refused', accountId: account.id, clientId: app.clientId, ip: requester.ip, detail: { reason: 'no_device' } });
      await endSignIn(deps, { ...ref, state });
      return { kind: 'refused', reason: 'no_device' };
    case 'bad-passcode-format':
      await endSignIn(deps, { ...ref, state });
      return { kind: 'bad-passcode-format' };
    case 'recover':
    case 'choose-second-factor':
      return { kind: next.kind };
    case 'send-push':
      return { kind: 'push', push: await sendPush(deps, { ...ref, state }, input.push) };
    case 'check-passcode': {
      const passcode = await checkPasscode(deps, { ...ref, state }, next.passcode);
      if (passcode.kind === 'finished') await release();
      return { kind: 'passcode', passcode };
    }
  }
}
