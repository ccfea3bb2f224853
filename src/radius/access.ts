import type { ContinuationStore } from '../signin/continuation.js';
import { newSignInId, type FinishResult, type PasscodeResult, type PushResult, type RelyingApp, type SignIn, type SignInRef, type Started, type WaitResult } from '../signin/index.js';
import type { AccessRequest } from './access-request.js';
import type { RadiusClient } from './clients.js';
import { MESSAGES, approvePrompt, codePrompt, noPushMessage, throttledMessage } from './messages.js';
import { splitPasscode } from './passcode-syntax.js';

/**
 * The RADIUS door's translation of an Access-Request into sign-in steps (docs/radius.md, "Modes").
 * Every decision is the sign-in core's (src/signin/): throttles, lockouts, push fatigue, passcode
 * limits and the audit are the login page's. This file only picks the step and words the answer.
 */
export type Verdict =
  | { code: 'accept' }
  | { code: 'reject'; message: string }
  | { code: 'challenge'; message: string; state: string };

export interface AccessDeps {
  signin: SignIn;
  continuations: ContinuationStore;
  /** Seconds a push request lives (PUSH_CHALLENGE_TTL): a challenge's State lives as long, plus the wait. */
  challengeTtlSeconds: number;
  now: () => number;
  /** Aborted when the server stops: requests waiting for a phone end at once. */
  signal?: AbortSignal;
}


const ACCEPT: Verdict = { code: 'accept' };
const reject = (message: string): Verdict => ({ code: 'reject', message });

/** The app a client stands for. A NAS has one password field: the core reads it as the single form. */
export function appOf(client: RadiusClient): RelyingApp {
  return { clientId: `radius:${client.name}`, name: client.displayName, policy: { ...client.login, form: 'single-form' } };
}

/** A State is the client's and the user's: presented by another client or for another user, it is spent for nothing. */
const bindingOf = (client: RadiusClient, username: string) => `${client.name}\n${username}`;

function refFor(deps: AccessDeps, client: RadiusClient, req: AccessRequest, nasIp: string, id: string): SignInRef {
  return {
    id,
    // A VPN gateway names the user's address in Calling-Station-Id: throttles and the phone use it; else the NAS's.
    requester: { ip: req.callingIp ?? nasIp, userAgent: `RADIUS client ${client.name}`, app: appOf(client) },
    ttlSeconds: deps.challengeTtlSeconds + client.maxWaitSeconds,
  };
}

export async function answerAccessRequest(deps: AccessDeps, client: RadiusClient, req: AccessRequest, nasIp: string): Promise<Verdict> {
  return req.state ? answerChallenge(deps, client, req, nasIp, req.state) : firstRequest(deps, client, req, refFor(deps, client, req, nasIp, newSignInId()));
}

/** The password (and maybe a passcode after a comma): RFC 2865 PAP. */
async function firstRequest(deps: AccessDeps, client: RadiusClient, req: AccessRequest, ref: SignInRef): Promise<Verdict> {
  const typed = splitPasscode(req.password ?? '');
  if (!typed.password) return reject(MESSAGES.failed);
  // A single-request NAS shows nothing: when push fatigue forces number matching, no push goes at all
  // (one sent and then withdrawn would still have rung the phone of a user under a push-bombing attack).
  const push = client.mode === 'single' ? { push: { numberScreen: false } } : {};
  const result = await deps.signin.password(ref, { username: req.username, password: typed.password, passcode: typed.passcode, ...push });
  switch (result.kind) {
    case 'finished': return ACCEPT; // the app lets a user without a device in with the password (login.noDevice)
    case 'passcode': return afterPasscode(result.passcode);
    case 'push': return afterPush(deps, client, req.username, ref, result.push);
    case 'throttled': return reject(throttledMessage(result.retryAfterSeconds));
    case 'refused': return reject(MESSAGES.noDevice);
    case 'recover': return reject(MESSAGES.recover);
    // Unknown user, wrong password, disabled account: one answer (and a malformed passcode is a failure too).
    default: return reject(MESSAGES.failed);
  }
}

function afterPasscode(p: PasscodeResult): Verdict {
  switch (p.kind) {
    case 'finished': return ACCEPT;
    case 'throttled': return reject(p.capped ? MESSAGES.passcodesCapped : throttledMessage(p.retryAfterSeconds));
    case 'locked-for-signin': return reject(MESSAGES.lockedForSignIn);
    default: return reject(MESSAGES.failed);
  }
}

async function started(deps: AccessDeps, ref: SignInRef): Promise<Started | null> {
  const state = await deps.signin.state(ref.id);
  return state ? { ...ref, state } : null;
}

async function afterPush(deps: AccessDeps, client: RadiusClient, username: string, ref: SignInRef, push: PushResult): Promise<Verdict> {
  const s = await started(deps, ref);
  if (!s) return reject(MESSAGES.expired);
  if (push.kind === 'refused') {
    if (client.mode === 'challenge') return challenge(deps, client, username, s, codePrompt(push.notice));
    await deps.signin.cancel(s.id, s.requester.app.clientId);
    return reject(push.notice === 'needs_binding_message' ? MESSAGES.cannotShowNumber : noPushMessage(push.notice));
  }
  if (push.kind !== 'sent') return reject(MESSAGES.failed);
  const now = await deps.signin.wait(s);
  if (now.kind !== 'waiting') return finished(now);
  if (client.mode === 'challenge') return challenge(deps, client, username, s, approvePrompt(now.matchNumber));
  // Single-request mode asked for a push without a number (above; the file may not ask for one either, clients.ts).
  return endOfWait(deps, s, await hold(deps, s, client.maxWaitSeconds * 1000));
}

/** The answer to our Access-Challenge: Enter (an empty answer or one character) for the push, or a passcode. */
async function answerChallenge(deps: AccessDeps, client: RadiusClient, req: AccessRequest, nasIp: string, state: Buffer): Promise<Verdict> {
  const token = state.toString('latin1');
  const binding = bindingOf(client, req.username);
  const id = await deps.continuations.take(token, binding);
  if (!id) return reject(MESSAGES.expired);
  const s = await started(deps, refFor(deps, client, req, nasIp, id));
  if (!s) return reject(MESSAGES.expired);
  const answer = (req.password ?? '').trim();
  if ([...answer].length <= 1) {
    const result = await hold(deps, s, client.maxWaitSeconds * 1000);
    // The server is stopping while the phone has not answered: nothing will be sent from here, so the
    // State is handed back and the push left on the phone, and the NAS's retry at another RADIUS
    // server goes on waiting for the same approval (red-team: it was refused there, and the
    // approval the user then gave let no one in).
    if (deps.signal?.aborted && result.kind === 'waiting' && result.status === 'pending') {
      await deps.continuations.giveBack(token, id, binding, s.ttlSeconds);
      return reject(MESSAGES.expired); // not sent: the server is stopping
    }
    if (result.kind === 'waiting' && result.status === 'pending') return challenge(deps, client, req.username, s, approvePrompt(result.matchNumber, 'Not approved yet. '));
    if (result.kind === 'waiting' && result.status === 'none') return challenge(deps, client, req.username, s, codePrompt(null));
    return endOfWait(deps, s, result);
  }
  const p = await deps.signin.passcode(s, answer);
  if (p.kind !== 'wrong' && p.kind !== 'malformed') return afterPasscode(p);
  // The core counts the wrong ones (five per sign-in): ask again, with a new State.
  const now = await deps.signin.wait(s);
  if (now.kind !== 'waiting') return finished(now);
  const prompt = now.status === 'pending' ? approvePrompt(now.matchNumber, 'Wrong code. ') : codePrompt(null, 'Wrong code. ');
  return challenge(deps, client, req.username, s, prompt);
}

async function challenge(deps: AccessDeps, client: RadiusClient, username: string, s: Started, message: string): Promise<Verdict> {
  const state = await deps.continuations.issue(s.id, bindingOf(client, username), s.ttlSeconds);
  return { code: 'challenge', message, state };
}

function finished(f: FinishResult): Verdict {
  return f.kind === 'finished' ? ACCEPT : reject(MESSAGES.failed);
}

/** What a wait that did not end in approval answers; a push still pending is withdrawn. */
async function endOfWait(deps: AccessDeps, s: Started, result: WaitResult): Promise<Verdict> {
  if (result.kind !== 'waiting') return finished(result);
  if (result.status === 'pending' || result.status === 'none') await deps.signin.cancel(s.id, s.requester.app.clientId);
  if (result.status === 'denied') return reject(MESSAGES.denied);
  return reject(MESSAGES.noAnswer);
}

/**
 * Holds until the push is answered or `maxMs` passes, without blocking: the same wake-up path as
 * the browser's waiting page (the core's watch, src/challenge/waiters.ts under it), then the
 * core's wait step, which finishes an approved sign-in.
 */
async function hold(deps: AccessDeps, s: Started, maxMs: number): Promise<WaitResult> {
  const deadline = deps.now() + maxMs;
  for (;;) {
    const result = await deps.signin.wait(s);
    const left = deadline - deps.now();
    if (result.kind !== 'waiting' || result.status !== 'pending' || left <= 0 || deps.signal?.aborted) return result;
    const watched = await deps.signin.watch(s.id, s.state, true);
    if ('later' in watched) await within(watched.later, left, deps.signal);
  }
}

/** The promise's value, or null after `ms` or on abort; the timer and listener never outlive it. */
function within<T>(p: Promise<T>, ms: number, signal: AbortSignal | undefined): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), ms);
    onAbort = () => resolve(null);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([p, timeout]).finally(() => {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  });
}
