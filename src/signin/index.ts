import { passwordFirstFactor, type PasswordInput } from './first-factor.js';
import { checkBackchannelUser, settleBackchannel, startBackchannel } from './backchannel.js';
import { checkPasscode } from './passcode.js';
import { sendPush } from './push.js';
import { hasNoDevice, useRecoveryCode } from './recovery.js';
import { upstreamFirstFactor, type UpstreamInput } from './upstream.js';
import { withdrawChallenge } from './resolution.js';
import type { SignInState } from './state.js';
import type { SignInDeps, SignInRef, Started } from './types.js';
import { planWatch, waitStep, watchPush, type KnownPush } from './wait.js';
import { waitAtMost } from './bounded-wait.js';

/**
 * The transport-neutral sign-in core (docs/architecture.md, "Layers"): every front door (the OIDC pages today;
 * SAML, CIBA, the agent API and RADIUS later) drives a sign-in through these steps and renders,
 * redirects or answers from the discriminated results. Nothing here knows koa, views or OIDC.
 */
/** A sign-in's state and its push, as one read saw them (hand `push` on to wait, watch or planWatch). */
export type StateAndPush = { state: SignInState; push: KnownPush };

export function createSignIn(deps: SignInDeps) {
  return {
    /** Where a sign-in stands (null: not past its first factor, or over). */
    state: (id: string): Promise<SignInState | null> => deps.states.get(id),
    /**
     * The same with its push, in one read: hand `push` to wait, watch or planWatch of this request.
     * `finishing`: the page that finishes the sign-in if its push is approved (wait). The state is
     * then taken with the read (state.ts getWithPush): hand `push` on to wait, which finishes it.
     */
    async stateWithPush(id: string, opts: { finishing?: boolean } = {}): Promise<StateAndPush | null> {
      const readAt = performance.now();
      const found = await deps.states.getWithPush(id, deps.now(), { takeIfApproved: opts.finishing === true });
      if (!found) return null;
      const push: KnownPush = found.taken ? { challenge: found.challenge, readAt, stateTaken: true } : { challenge: found.challenge, readAt };
      return { state: found.state, push };
    },
    /**
     * stateWithPush (never finishing) and, in the same round trip, the front door's own record of
     * this sign-in at `besideKey` (state.ts readBeside): a page that reads both reads them at once.
     */
    async stateWithPushBeside(id: string, besideKey: string): Promise<{ found: StateAndPush | null; beside: string | null | undefined }> {
      const readAt = performance.now();
      const { found, beside } = await deps.states.readBeside(id, deps.now(), besideKey);
      return { found: found && { state: found.state, push: { challenge: found.challenge, readAt } }, beside };
    },
    password: (ref: SignInRef, input: PasswordInput) => passwordFirstFactor(deps, ref, input),
    /** The first factor from a trusted upstream assertion (MFA-only mode, docs/entra.md). */
    upstream: (ref: SignInRef, input: UpstreamInput) => {
      const { upstream } = deps;
      if (!upstream) throw new Error('upstream first factors are not configured');
      return upstreamFirstFactor({ ...deps, upstream }, ref, input);
    },
    push: (s: Started) => sendPush(deps, s),
    passcode: (s: Started, typed: string) => checkPasscode(deps, s, typed),
    recoveryCode: (s: Started, code: string) => useRecoveryCode(deps, s, code),
    /** Whether the account has no active authenticator (the recovery page says so). */
    noDevice: (s: Started) => hasNoDevice(deps, s.state.accountId),
    wait: (s: Started, known?: KnownPush) => waitStep(deps, s, known),
    watch: (id: string, state: SignInState, hold: boolean, known?: KnownPush) => watchPush(deps, id, state, hold, known),
    /** The long-poll's decision alone, for a door that holds its requests itself (src/http/long-poll.ts). */
    planWatch: (id: string, state: SignInState, known?: KnownPush) => planWatch(deps, id, state, true, known),
    /** A door that holds its caller (the agent API): waits up to maxMs for the push, then as `wait`. */
    waitAtMost: (s: Started, maxMs: number) => waitAtMost(deps, s, maxMs),
    /** OpenID CIBA (backchannel.ts): may this account be asked, ask it, and what its answer means. */
    backchannel: {
      check: (accountId: string) => checkBackchannelUser(deps, accountId),
      start: (ref: SignInRef, input: { accountId: string; bindingMessage: string | null }) => startBackchannel(deps, ref, input),
      settle: (s: Started) => settleBackchannel(deps, s),
    },
    /** The user gave up: a request still on the phone stands for nothing now; the state ends. */
    async cancel(id: string, clientId: string): Promise<void> {
      const state = await deps.states.get(id);
      if (state?.challengeId) await withdrawChallenge(deps, { id: state.challengeId, accountId: state.accountId, clientId });
      await deps.states.delete(id);
    },
  };
}

export type SignIn = ReturnType<typeof createSignIn>;
// For front doors without an id of their own: the core mints one.
export { newSignInId } from './id.js';
// For composition (app.ts): the state store, the resolution policy, and the push targets of an account's devices.
export { createSignInStateStore } from './state.js';
export { createResolutionPolicy, withdrawEndedPushes, type ResolutionHook, type ResolutionPolicy } from './resolution.js';
export { pushTargetsOf } from './push.js';
export type { Login, RelyingApp, Requester, SignInDeps, SignInRef, Started } from './types.js';
export type { PasswordResult } from './first-factor.js';
export type { PasscodeResult, GuessRefusal } from './passcode.js';
export type { PushResult, PushNotice } from './push.js';
export type { RecoveryResult } from './recovery.js';
export type { UpstreamDeps, UpstreamInput, UpstreamResult } from './upstream.js';
export type { FinishResult } from './finish.js';
export type { BackchannelCheck, BackchannelOutcome, BackchannelStart } from './backchannel.js';
export { PHONE_ONLY_ACR } from './amr.js';
export type { KnownPush, PushHold, PushStatus, WaitResult } from './wait.js';
export { statusAfterWait } from './wait.js';
