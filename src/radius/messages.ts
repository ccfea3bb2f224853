import type { PushNotice } from '../signin/index.js';

/**
 * What the user reads on the NAS (Reply-Message, RFC 2865 5.18). Short: many VPN clients show one
 * line. The number to match is always shown where the user is (push bombing, issue 13).
 */
export const MESSAGES = {
  failed: 'Authentication failed.',
  expired: 'This sign-in has expired or was already answered: start again.',
  denied: 'The request was denied on your phone.',
  noAnswer: 'No answer from your phone in time: start again.',
  noDevice: 'No authenticator is enrolled for this account.',
  recover: 'No active authenticator: sign in on the web with a recovery code, or ask your administrator.',
  lockedForSignIn: 'Too many wrong codes: start again.',
  passcodesCapped: 'Codes are locked after too many wrong ones: approve on your phone, or ask your administrator.',
  cannotShowNumber: 'Too many unanswered requests: add a comma and the code from your authenticator to your password.',
} as const;

export const throttledMessage = (seconds: number) => `Too many attempts: try again in ${seconds} second${seconds === 1 ? '' : 's'}.`;

/** The Access-Challenge prompt after a push went out. */
export function approvePrompt(matchNumber: number | null, prefix = ''): string {
  const approve = matchNumber === null ? 'Approve on your phone' : `Approve on your phone: number ${matchNumber}`;
  return `${prefix}${approve}, then press Enter, or type the code.`;
}

const NOTICES: Record<PushNotice, string> = {
  reported: 'no more requests for this sign-in',
  too_soon: 'one was sent moments ago',
  too_many: 'too many for this sign-in',
  muted: 'pushes are paused for this account',
  limit: 'too many unanswered requests',
  needs_binding_message: 'this request needs a number to match',
};

/** The Access-Challenge prompt when no push went out: the passcode still works. */
export function codePrompt(notice: PushNotice | null, prefix = ''): string {
  return `${prefix}${notice ? `No push sent (${NOTICES[notice]}). ` : ''}Type the code from your authenticator.`;
}

/** Single-request mode: no push went out, so the user must put the code after the password. */
export function noPushMessage(notice: PushNotice): string {
  return `No push sent (${NOTICES[notice]}): add a comma and the code from your authenticator to your password.`;
}
