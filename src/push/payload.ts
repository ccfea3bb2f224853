import type { Challenge } from '../challenge/types.js';
import type { NoticePayload, PushPayload } from './types.js';
import { INVISIBLE, KEPT_IN_TEXT, showsSomething } from '../config/shown-name.js';

/**
 * RFC 8030 7.2 lets a push service refuse bodies over 4096 bytes; RFC 8291 4 spends 86 bytes of
 * header, 16 of tag and 1 of padding delimiter, leaving this much JSON.
 */
export const MAX_PUSH_PLAINTEXT_BYTES = 4096 - 86 - 16 - 1;

/** What buildPushPayload aims for: well under the hard limit, so no push service is ever at its edge. */
export const PUSH_PAYLOAD_BUDGET_BYTES = 3072;

/**
 * Longest shown strings, in user-perceived characters (graphemes); each also gets at most three
 * bytes of JSON per character, so even emoji sequences or piles of combining marks in a crafted
 * User-Agent keep the whole payload within the budget.
 */
export const FIELD_LIMITS = { title: 80, app: 80, ip: 64, location: 80, browser: 120, bindingMessage: 64 } as const;

export class PushPayloadTooLargeError extends Error {
  readonly code = 'push_payload_too_large';
  override readonly name = 'PushPayloadTooLargeError';
  constructor(readonly bytes: number) {
    super(`push payload is ${bytes} bytes, over the ${PUSH_PAYLOAD_BUDGET_BYTES}-byte budget`);
  }
}

/** The parts of a challenge that the phone is shown; never the nonce or the number to match. */
export type ChallengeForPush = Pick<
  Challenge,
  'id' | 'appName' | 'ip' | 'browser' | 'location' | 'createdAt' | 'expiresAt' | 'matchNumber' | 'bindingMessage'
>;

export interface PushTarget {
  /** The IdP's issuer and the device id, so the app knows which of its accounts is asked. */
  issuer: string;
  deviceId: string;
  title?: string;
}

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

const ELLIPSIS = '…';

/** What a piece of text costs inside the JSON: UTF-8 bytes after escaping. */
function jsonBytes(text: string): number {
  return Buffer.byteLength(JSON.stringify(text)) - 2;
}

/**
 * Makes a requester-controlled string (the User-Agent, an app name) safe to show: no control
 * characters, no bidi overrides (which can make text read differently from what it is), no lone
 * surrogates, nothing invisible (zero-width spaces, fillers), single spaces; then at most
 * `maxChars` graphemes and `3 * maxChars` JSON bytes, cut with an ellipsis between graphemes, never
 * inside one.
 */
export function displayText(value: string, maxChars: number): string {
  const maxBytes = 3 * maxChars;
  const clean = value
    .replace(/[\p{Cc}\u200E\u200F\u202A-\u202E\u2066-\u2069]/gu, ' ')
    .replace(/\p{Cs}/gu, '\uFFFD')
    .replace(INVISIBLE, (c) => (KEPT_IN_TEXT.has(c) ? c : ''))
    .replace(/\s+/g, ' ')
    .trim();
  const kept: string[] = [];
  let bytes = 0;
  let truncated = false;
  for (const { segment } of segmenter.segment(clean)) {
    const cost = jsonBytes(segment);
    if (kept.length === maxChars || bytes + cost > maxBytes) {
      truncated = true;
      break;
    }
    kept.push(segment);
    bytes += cost;
  }
  if (!truncated) return clean;
  while (kept.length > 0 && (kept.length > maxChars - 1 || bytes + jsonBytes(ELLIPSIS) > maxBytes)) {
    bytes -= jsonBytes(kept.pop() ?? '');
  }
  return `${kept.join('').trimEnd()}${ELLIPSIS}`;
}

/** The JSON bytes that get encrypted; throws when over the budget. */
export function encodePushPayload(payload: PushPayload | NoticePayload): Buffer {
  const bytes = Buffer.from(JSON.stringify(payload), 'utf8');
  if (bytes.length > PUSH_PAYLOAD_BUDGET_BYTES) throw new PushPayloadTooLargeError(bytes.length);
  return bytes;
}

/** The payload documented in docs/device-api.md ("Push messages"). Pure. */
export function buildPushPayload(challenge: ChallengeForPush, target: PushTarget): PushPayload {
  const app = displayText(challenge.appName, FIELD_LIMITS.app);
  const ip = displayText(challenge.ip, FIELD_LIMITS.ip);
  const location = challenge.location === null ? null : displayText(challenge.location, FIELD_LIMITS.location);
  const browser = displayText(challenge.browser, FIELD_LIMITS.browser);
  // A CIBA request's binding message leads the body: it is what the user compares with the screen
  // of the app that asked (OpenID CIBA 7.1), as the number is on the login page.
  const binding = challenge.bindingMessage ? displayText(challenge.bindingMessage, FIELD_LIMITS.bindingMessage) : null;
  const payload: PushPayload = {
    v: 1,
    type: 'challenge',
    cid: challenge.id,
    issuer: target.issuer,
    deviceId: target.deviceId,
    // The question itself (docs/device-api.md "Push messages"); the app's name is already cut to fit.
    title: displayText(target.title ?? `Are you signing in to ${app}?`, FIELD_LIMITS.title),
    body: [binding ? `"${binding}"` : null, app, ip, location, browser].filter((part) => part).join(' · '),
    app,
    ip,
    location,
    browser,
    ...(binding ? { bindingMessage: binding } : {}),
    createdAt: challenge.createdAt,
    expiresAt: challenge.expiresAt,
    numberMatching: challenge.matchNumber !== null,
  };
  // Only the untruncatable identifiers (cid, issuer, deviceId) can still overflow: refuse.
  encodePushPayload(payload);
  return payload;
}

/**
 * The device's name in quotes; a name that shows nothing (stored before names were checked for it),
 * or nothing but the ellipsis of a cut (one character too big for the field), is "A device".
 */
function quotedName(name: string): string {
  const shown = displayText(name, 64);
  return showsSomething(shown.replace(/…$/u, '')) ? `"${shown}"` : 'A device';
}

/** A notice (docs/device-api.md "Push messages"): that a device named `deviceName` was added. Pure. */
export function buildNoticePayload(notice: { kind: 'device_added'; deviceName: string }, target: PushTarget & { createdAt: number }): NoticePayload {
  const payload: NoticePayload = {
    v: 1,
    type: 'notice',
    kind: notice.kind,
    issuer: target.issuer,
    deviceId: target.deviceId,
    title: displayText(target.title ?? 'A new authenticator was added', FIELD_LIMITS.title),
    body: `${quotedName(notice.deviceName)} can now approve sign-ins to your account. If it was not you, tell your administrator.`,
    createdAt: target.createdAt,
  };
  encodePushPayload(payload);
  return payload;
}
