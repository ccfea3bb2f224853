import { formatIp, parseIp } from '../net/ip.js';
import { revealPassword } from './authenticators.js';
import { ATTR, MAX_PACKET_LENGTH, MAX_VALUE_LENGTH, valuesOf, type Packet } from './codec.js';

/** What an authenticated Access-Request asks, read from its attributes (RFC 2865 section 5). */
export interface AccessRequest {
  username: string;
  /** The User-Password revealed (RFC 2865 5.2); null when the request carries none (radclient leaves an empty one out). */
  password: string | null;
  /** The State of an answer to our Access-Challenge (RFC 2865 5.24). */
  state: Buffer | null;
  /** Calling-Station-Id when it is an IP address (a VPN gateway puts the user's address there). */
  callingIp: string | null;
  /** RFC 2865 5.33: copied, in order, into the reply. */
  proxyStates: Buffer[];
}

/** Why an authenticated request is refused before the sign-in sees it (answered with Access-Reject). */
export type RequestRefusal = 'no_user_name' | 'bad_user_name' | 'bad_password' | 'not_pap' | 'repeated_attribute' | 'proxy_state_too_large';

const decoder = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 text without control characters, or null. */
function text(value: Buffer): string | null {
  let s: string;
  try {
    s = decoder.decode(value);
  } catch {
    return null;
  }
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f\u007f]/.test(s) ? null : s;
}

function single(packet: Packet, type: number): { ok: true; value: Buffer | null } | { ok: false } {
  const values = valuesOf(packet, type);
  return values.length > 1 ? { ok: false } : { ok: true, value: values[0] ?? null };
}

/**
 * Room a reply needs besides the Proxy-State it copies: its header, a Reply-Message and a State of
 * at most one attribute each, and the Message-Authenticator.
 */
const REPLY_OWN_OCTETS = 20 + 2 * (2 + MAX_VALUE_LENGTH) + 18;

/**
 * Reads an Access-Request whose Message-Authenticator (or, for a relaxed client, source) was
 * already checked. PAP only: CHAP and EAP cannot carry a passcode or wait for a phone.
 */
export function readAccessRequest(packet: Packet, secret: Uint8Array): { ok: true; request: AccessRequest } | { ok: false; refusal: RequestRefusal; proxyStates: Buffer[] } {
  // RFC 2865 5.33: the reply copies every Proxy-State, an Access-Reject of a refused request too
  // (red-team: a proxy in front, forwarding CHAP or EAP, got a reject it could not match). A request
  // that leaves no room for them in the reply is refused before the sign-in runs (red-team: a push
  // was sent, then the reply failed to encode, and every retransmission sent another), and its
  // reject carries none.
  const proxyStates = valuesOf(packet, ATTR.proxyState);
  if (proxyStates.reduce((n, p) => n + 2 + p.length, REPLY_OWN_OCTETS) > MAX_PACKET_LENGTH) return { ok: false, refusal: 'proxy_state_too_large', proxyStates: [] };
  const refuse = (refusal: RequestRefusal) => ({ ok: false as const, refusal, proxyStates });
  const name = single(packet, ATTR.userName);
  const hidden = single(packet, ATTR.userPassword);
  const state = single(packet, ATTR.state);
  if (!name.ok || !hidden.ok || !state.ok) return refuse('repeated_attribute');
  if (valuesOf(packet, ATTR.chapPassword).length > 0 || valuesOf(packet, ATTR.eapMessage).length > 0) return refuse('not_pap');
  if (!name.value) return refuse('no_user_name');
  const username = text(name.value);
  if (!username) return refuse('bad_user_name');
  let password: string | null = null;
  if (hidden.value) {
    const revealed = revealPassword(hidden.value, secret, packet.authenticator);
    // NULs inside the password or bytes that are not UTF-8: not something a user typed.
    password = revealed && !revealed.includes(0) ? text(revealed) : null;
    if (password === null) return refuse('bad_password');
  }
  const calling = valuesOf(packet, ATTR.callingStationId)[0];
  const callingIp = calling ? parseIp(calling.toString('latin1')) : null;
  return {
    ok: true,
    request: {
      username, password, state: state.value, callingIp: callingIp ? formatIp(callingIp) : null, proxyStates,
    },
  };
}
