import { effectiveStatus } from '../challenge/model.js';
import { DEVICE_AUTH_TYP } from '../approval/verify-device-auth.js';
import { RESPONSE_TYP } from '../approval/verify-response.js';
import type { Challenge, ChallengeStatus, Decision } from '../challenge/types.js';
import { displayText, FIELD_LIMITS } from '../push/payload.js';
import type * as Wire from './contract.js';

/** docs/device-api.md section 3: a challenge as its user's device sees it. */

/**
 * Built field by field, never by spreading the record: matchNumber must not reach the phone, or
 * number matching would stop proving that the user is looking at the login page. The words shown
 * are the notification's (push/payload.ts displayText): the request page, where the user decides,
 * never reads differently from the notification (no bidi override, line break or padding run).
 */
export function toDeviceView(ch: Challenge, now: number): Wire.DeviceChallengeView {
  return {
    id: ch.id,
    nonce: ch.nonce,
    app: displayText(ch.appName, FIELD_LIMITS.app),
    ip: displayText(ch.ip, FIELD_LIMITS.ip),
    location: ch.location === null ? null : displayText(ch.location, FIELD_LIMITS.location),
    browser: displayText(ch.browser, FIELD_LIMITS.browser),
    bindingMessage: ch.bindingMessage ? displayText(ch.bindingMessage, FIELD_LIMITS.bindingMessage) : null,
    createdAt: ch.createdAt,
    expiresAt: ch.expiresAt,
    status: effectiveStatus(ch, now),
    numberMatching: ch.matchNumber !== null,
    // Verified Push: the user types the number, so the choices (one of them right) stay here.
    numberChoices: ch.numberChoices && !ch.verifiedPush ? [...ch.numberChoices] : null,
    ...(ch.verifiedPush && ch.matchNumber !== null ? { verifiedPush: true } : {}),
  };
}

// The contract spells the challenge's vocabulary out for the PWA; it must stay the engine's.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameVocabulary: [Same<ChallengeStatus, Wire.ChallengeStatus>, Same<Decision, Wire.Decision>] = [true, true];
void sameVocabulary;

// The token types the contract names are the ones the approval checks demand.
const sameTyps: [typeof Wire.DEVICE_AUTH_TYP, typeof Wire.RESPONSE_TYP] = [DEVICE_AUTH_TYP, RESPONSE_TYP];
void sameTyps;
