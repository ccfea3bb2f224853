/**
 * The RADIUS packet format (RFC 2865 section 3 and 5): a 20-octet header (Code, Identifier,
 * Length, Authenticator) and type-length-value attributes. Pure bytes in, bytes out; nothing here
 * knows secrets (authenticators.ts) or meaning (access-request.ts).
 *
 * Our own codec rather than the `radius` npm package: its reply encoder appends
 * Message-Authenticator last (and only when the request had one), and BlastRADIUS (CVE-2024-3596)
 * wants it first in every reply (docs/radius.md, "BlastRADIUS").
 */

export const CODE = {
  accessRequest: 1,
  accessAccept: 2,
  accessReject: 3,
  accessChallenge: 11,
  statusServer: 12,
} as const;

export const ATTR = {
  userName: 1,
  userPassword: 2,
  chapPassword: 3,
  nasIpAddress: 4,
  replyMessage: 18,
  state: 24,
  callingStationId: 31,
  nasIdentifier: 32,
  proxyState: 33,
  eventTimestamp: 55,
  eapMessage: 79,
  messageAuthenticator: 80,
} as const;

/** RFC 2865 section 3: "The minimum length is 20 and maximum length is 4096." */
export const HEADER_LENGTH = 20;
export const MAX_PACKET_LENGTH = 4096;
/** An attribute's value is at most 253 octets (its Length octet counts Type and Length too). */
export const MAX_VALUE_LENGTH = 253;

export interface Attribute {
  type: number;
  value: Buffer;
}

/** An attribute as found in a received packet: `offset` is where its value starts in the packet. */
export interface DecodedAttribute extends Attribute {
  offset: number;
}

export interface Packet<A extends Attribute = Attribute> {
  code: number;
  identifier: number;
  /** 16 octets: the Request Authenticator of a request, the Response Authenticator of a reply. */
  authenticator: Buffer;
  attributes: A[];
}

export type DecodeFailure =
  | 'too_short'
  | 'bad_length'
  | 'truncated'
  | 'bad_attribute_length'
  | 'attribute_overflow';

export type Decoded =
  | { ok: true; packet: Packet<DecodedAttribute>; /** The packet's own octets (Length of them; padding dropped). */ bytes: Buffer }
  | { ok: false; reason: DecodeFailure };

/**
 * Reads one datagram. Strict: the Length field must lie in 20..4096 and within the datagram, and
 * the attributes must fill exactly the octets up to Length, each at least 2 octets long. Octets
 * past Length are padding (RFC 2865 section 3: "treated as padding and ignored on reception").
 * Never throws; the returned buffers are copies, not views of the datagram.
 */
export function decodePacket(datagram: Uint8Array): Decoded {
  if (datagram.length < HEADER_LENGTH) return { ok: false, reason: 'too_short' };
  const data = Buffer.from(datagram);
  const length = data.readUInt16BE(2);
  if (length < HEADER_LENGTH || length > MAX_PACKET_LENGTH) return { ok: false, reason: 'bad_length' };
  if (length > data.length) return { ok: false, reason: 'truncated' };
  const bytes = Buffer.from(data.subarray(0, length));
  const attributes: DecodedAttribute[] = [];
  let at = HEADER_LENGTH;
  while (at < length) {
    if (at + 2 > length) return { ok: false, reason: 'attribute_overflow' };
    const type = bytes[at]!;
    const attrLength = bytes[at + 1]!;
    if (attrLength < 2) return { ok: false, reason: 'bad_attribute_length' };
    if (at + attrLength > length) return { ok: false, reason: 'attribute_overflow' };
    attributes.push({ type, value: Buffer.from(bytes.subarray(at + 2, at + attrLength)), offset: at + 2 });
    at += attrLength;
  }
  return {
    ok: true,
    bytes,
    packet: { code: bytes[0]!, identifier: bytes[1]!, authenticator: Buffer.from(bytes.subarray(4, HEADER_LENGTH)), attributes },
  };
}

/** Thrown when asked to encode what RFC 2865 cannot carry: a programming error, never input. */
export class EncodeError extends Error {
  override readonly name = 'EncodeError';
}

/** Writes a packet (attributes in the order given). The Length field is computed. */
export function encodePacket(packet: Packet): Buffer {
  if (packet.authenticator.length !== 16) throw new EncodeError('the authenticator is 16 octets');
  if (!Number.isInteger(packet.code) || packet.code < 0 || packet.code > 255) throw new EncodeError('bad code');
  if (!Number.isInteger(packet.identifier) || packet.identifier < 0 || packet.identifier > 255) throw new EncodeError('bad identifier');
  const parts: Buffer[] = [];
  for (const a of packet.attributes) {
    if (!Number.isInteger(a.type) || a.type < 1 || a.type > 255) throw new EncodeError(`bad attribute type ${a.type}`);
    if (a.value.length > MAX_VALUE_LENGTH) throw new EncodeError(`attribute ${a.type} is longer than ${MAX_VALUE_LENGTH} octets`);
    parts.push(Buffer.from([a.type, a.value.length + 2]), a.value);
  }
  const body = Buffer.concat(parts);
  const length = HEADER_LENGTH + body.length;
  if (length > MAX_PACKET_LENGTH) throw new EncodeError(`packet of ${length} octets is longer than ${MAX_PACKET_LENGTH}`);
  const header = Buffer.alloc(4);
  header[0] = packet.code;
  header[1] = packet.identifier;
  header.writeUInt16BE(length, 2);
  return Buffer.concat([header, packet.authenticator, body]);
}

/** The values of every attribute of one type, in packet order. */
export function valuesOf(packet: Packet, type: number): Buffer[] {
  return packet.attributes.filter((a) => a.type === type).map((a) => a.value);
}
