import { formatIp, parseIp } from '../net/ip.js';
import { badRequest } from './errors.js';

/** POST /api/agent/authenticate, as validated (docs/agent-api.md, "Authenticate"). */
export interface AuthenticateRequest {
  username: string;
  password: string;
  /** '' or one character: push; 6 or 8 digits: a TOTP checked at once. */
  passcode: string;
  mode: 'wait' | 'poll';
  /** Seconds the call may wait for the phone (wait mode), before the gateway's maximum caps it. */
  waitSeconds: number | null;
  /** The end user's address as the gateway saw it, normalised. */
  clientIp: string | null;
}

const FIELDS = new Set(['username', 'password', 'passcode', 'mode', 'wait', 'client_ip']);

/** NUL, any other C0 control or DEL, or half a surrogate pair: no person types them, storage refuses some. */
const ODD = /[\u0000-\u001f\u007f]|\p{Cs}/u;

function text(body: Record<string, unknown>, name: string, max: number, required: boolean): string {
  const value = body[name];
  if (value === undefined || value === null) {
    if (required) throw badRequest(`${name} is required`);
    return '';
  }
  if (typeof value !== 'string') throw badRequest(`${name} must be a string`);
  if (value.length > max) throw badRequest(`${name} is longer than ${max} characters`);
  if (ODD.test(value)) throw badRequest(`${name} holds a character that is not allowed`);
  return value;
}

/**
 * Pure: the body, or a 400 saying what is wrong. The passcode's shape is checked here, before the
 * password is (signin/next-step.ts would otherwise refuse it only after a right password, which
 * would tell a guesser the password was right).
 */
export function parseAuthenticate(body: Record<string, unknown>): AuthenticateRequest {
  const unknown = Object.keys(body).find((k) => !FIELDS.has(k));
  if (unknown !== undefined) throw badRequest(`unknown member "${unknown.slice(0, 40).replace(ODD, '?')}"`);
  const username = text(body, 'username', 100, true).trim();
  const password = text(body, 'password', 256, true);
  if (!username || !password) throw badRequest('username and password are required');
  const passcode = text(body, 'passcode', 16, false).trim();
  // One character is one code point, as RADIUS counts it (red-team: an emoji, two UTF-16 units, was refused here and a push there).
  if ([...passcode].length > 1 && !/^(\d{6}|\d{8})$/.test(passcode)) {
    throw badRequest('passcode must be empty or one character (push), or 6 or 8 digits');
  }
  const mode = body.mode ?? 'wait';
  if (mode !== 'wait' && mode !== 'poll') throw badRequest('mode must be "wait" or "poll"');
  const wait = body.wait;
  // Any whole number of seconds, capped at the gateway's max_wait_seconds where it is used (docs/agent-api.md).
  if (wait !== undefined && (typeof wait !== 'number' || !Number.isSafeInteger(wait) || wait < 0)) {
    throw badRequest('wait must be a whole number of seconds');
  }
  let clientIp: string | null = null;
  if (body.client_ip !== undefined) {
    const ip = parseIp(text(body, 'client_ip', 64, true));
    if (!ip) throw badRequest('client_ip must be an IPv4 or IPv6 address');
    clientIp = formatIp(ip);
  }
  return { username, password, passcode, mode, waitSeconds: typeof wait === 'number' ? wait : null, clientIp };
}

/** `?wait=N` on a transaction poll: seconds to hold the request while the push is pending (default 0). */
export function parseWaitQuery(raw: string | string[] | undefined): number {
  if (raw === undefined) return 0;
  // Any whole number of seconds, as the body's `wait`: capped where it is used (red-team: 86400 was refused).
  if (typeof raw !== 'string' || !/^\d{1,64}$/.test(raw)) throw badRequest('wait must be a whole number of seconds');
  return Math.min(Number(raw), Number.MAX_SAFE_INTEGER);
}

/** Transaction ids are the core's sign-in ids: URL-safe. Anything else is unknown, not an error. */
export const TRANSACTION_ID = /^[A-Za-z0-9_-]{1,128}$/;
