import type { Login, PasscodeResult, PasswordResult, PushResult, WaitResult } from '../signin/index.js';
import { AgentError, authenticationFailed, rateLimited } from './errors.js';

/**
 * Pure: what the sign-in core's results mean on the wire (docs/agent-api.md, "Answers"). The core
 * decides; this only translates. `push-sent` is the one result that is not an answer yet: the door
 * then waits or hands out a transaction.
 */
export type Outcome =
  | { kind: 'success'; login: Login }
  | { kind: 'pending'; matchNumber: number | null; secondsLeft: number }
  | { kind: 'refused'; error: AgentError };

const refused = (error: AgentError): Outcome => ({ kind: 'refused', error });
const denied = (description: string) => refused(new AgentError('access_denied', 403, description));
const expired = () => refused(new AgentError('expired', 403, 'the sign-in expired before the phone answered'));
const noDevice = () => refused(new AgentError('push_unavailable', 403, 'the user has no active authenticator: enroll one (or use a recovery code) at the sign-in page'));

export function fromPassword(result: Exclude<PasswordResult, { kind: 'push' | 'passcode' }>): Outcome {
  switch (result.kind) {
    case 'finished': return { kind: 'success', login: result.login };
    case 'failed': return refused(authenticationFailed());
    case 'throttled': return refused(rateLimited(result.retryAfterSeconds));
    case 'missing': return refused(new AgentError('invalid_request', 400, 'username and password are required'));
    case 'bad-passcode-format': return refused(new AgentError('invalid_request', 400, 'passcode must be empty or one character (push), or 6 or 8 digits'));
    case 'refused':
    case 'recover': return noDevice();
    // A gateway's policy is always single-form (config/agents.ts): the core never asks it to choose.
    case 'choose-second-factor': return refused(new AgentError('server_error', 500, 'the server could not handle the request'));
  }
}

export function fromPush(result: PushResult): Outcome | { kind: 'push-sent' } {
  switch (result.kind) {
    case 'sent':
    case 'already-approved': return { kind: 'push-sent' };
    case 'gone': return expired();
    case 'refused':
      switch (result.notice) {
        case 'too_soon':
        case 'too_many':
        case 'limit': return refused(rateLimited(60, 'too many push requests for this user: wait, or type the passcode from the app'));
        case 'muted':
        case 'reported': return denied('push requests to this user are paused for a while: type the passcode from the app');
        // Only for doors without a screen for the number (CIBA); a gateway always gets the number to show.
        case 'needs_binding_message': return denied('this push needs a number to match that this channel cannot show: type the passcode from the app');
      }
  }
}

export function fromPasscode(result: PasscodeResult): Outcome {
  switch (result.kind) {
    case 'finished': return { kind: 'success', login: result.login };
    case 'refused': return denied('the account or the authenticator is no longer active');
    case 'wrong':
    case 'locked-for-signin': return refused(authenticationFailed());
    case 'throttled': return refused(result.capped
      ? rateLimited(result.retryAfterSeconds, 'passcodes are locked for this user after too many wrong ones in a row: approve a push, or an administrator runs user unlock')
      : rateLimited(result.retryAfterSeconds));
    case 'malformed': return refused(new AgentError('invalid_request', 400, 'passcode must be 6 or 8 digits'));
    case 'gone': return expired();
  }
}

export function fromWait(result: WaitResult): Outcome {
  switch (result.kind) {
    case 'finished': return { kind: 'success', login: result.login };
    case 'refused': return denied('the account or the approving authenticator is no longer active');
    case 'gone': return expired();
    case 'waiting':
      if (result.status === 'pending') return { kind: 'pending', matchNumber: result.matchNumber, secondsLeft: result.secondsLeft };
      if (result.status === 'denied') {
        return denied(result.reason === 'wrong_number' ? 'the wrong number was chosen on the phone' : 'the sign-in was denied on the phone');
      }
      // 'expired' or 'none' (the request is gone from the store): nobody answered in time.
      return expired();
  }
}

/** The sign-in's state is gone (finished elsewhere, cancelled, or lapsed). */
export const signInGone = () => expired();

/** A wait that ended with the push still pending: the caller gets this, and the push is withdrawn. */
export const timedOut = () => refused(new AgentError('timeout', 403, 'the phone did not answer within the wait'));
