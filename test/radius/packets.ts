import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { expect } from '@jest/globals';
import { hidePassword } from '../../src/radius/authenticators.js';

/**
 * A NAS written by hand for hostile-input tests: builds Access-Requests octet by octet (so a test
 * can break any of them), and sends them from one UDP socket with node's dgram, collecting every
 * reply. The checks of a reply (Message-Authenticator first, HMAC-MD5 and Response Authenticator)
 * are computed here with node:crypto, not with the server's own code.
 */
export type Attr = [type: number, value: Buffer];

export const USER_NAME = 1;
export const USER_PASSWORD = 2;
export const CHAP_PASSWORD = 3;
export const REPLY_MESSAGE = 18;
export const STATE = 24;
export const PROXY_STATE = 33;
export const MESSAGE_AUTHENTICATOR = 80;

export interface BuiltRequest {
  bytes: Buffer;
  identifier: number;
  authenticator: Buffer;
}

/** Attributes as octets: type, length, value (no checks: tests pass odd ones on purpose). */
export const attrBytes = (attrs: readonly Attr[]) => Buffer.concat(attrs.map(([t, v]) => Buffer.concat([Buffer.from([t, v.length + 2]), v])));

/**
 * An Access-Request. `password` is hidden per RFC 2865 5.2; `ma`: 'valid' appends a
 * Message-Authenticator computed over the finished packet (RFC 3579 3.2), 'none' leaves it out.
 */
export function accessRequest(opts: {
  secret: string | Buffer;
  user?: string;
  password?: string;
  attrs?: Attr[];
  ma?: 'valid' | 'none';
  identifier?: number;
  code?: number;
}): BuiltRequest {
  const secret = Buffer.from(opts.secret);
  const identifier = opts.identifier ?? Math.floor(Math.random() * 256);
  const authenticator = randomBytes(16);
  const attrs: Attr[] = [];
  if (opts.user !== undefined) attrs.push([USER_NAME, Buffer.from(opts.user)]);
  if (opts.password !== undefined) attrs.push([USER_PASSWORD, hidePassword(Buffer.from(opts.password), secret, authenticator)]);
  attrs.push(...(opts.attrs ?? []));
  const withMa = (opts.ma ?? 'valid') === 'valid';
  if (withMa) attrs.push([MESSAGE_AUTHENTICATOR, Buffer.alloc(16)]);
  const body = attrBytes(attrs);
  const header = Buffer.from([opts.code ?? 1, identifier, 0, 0]);
  header.writeUInt16BE(20 + body.length, 2);
  const bytes = Buffer.concat([header, authenticator, body]);
  if (withMa) createHmac('md5', secret).update(bytes).digest().copy(bytes, bytes.length - 16);
  return { bytes, identifier, authenticator };
}

/** The reply's attributes, parsed here (not by the server's codec). */
export function replyAttributes(reply: Buffer): Attr[] {
  const out: Attr[] = [];
  const length = reply.readUInt16BE(2);
  for (let at = 20; at < length; at += reply[at + 1]!) out.push([reply[at]!, reply.subarray(at + 2, at + reply[at + 1]!)]);
  return out;
}

/** What a NAS checks of a reply: Message-Authenticator first and right, Response Authenticator right. */
export function expectAuthenticReply(reply: Buffer, req: BuiltRequest, secret: string | Buffer): void {
  const key = Buffer.from(secret);
  expect(reply[1]).toBe(req.identifier);
  expect(reply.readUInt16BE(2)).toBe(reply.length);
  expect([reply[20], reply[21]]).toEqual([MESSAGE_AUTHENTICATOR, 18]);
  const forMa = Buffer.from(reply);
  req.authenticator.copy(forMa, 4);
  forMa.fill(0, 22, 38);
  expect(createHmac('md5', key).update(forMa).digest().toString('hex')).toBe(reply.subarray(22, 38).toString('hex'));
  const forRa = Buffer.from(reply);
  req.authenticator.copy(forRa, 4);
  expect(createHash('md5').update(forRa).update(key).digest().toString('hex')).toBe(reply.subarray(4, 20).toString('hex'));
}

/** One UDP socket on 127.0.0.1 that keeps every reply it gets. */
export class HandNas {
  readonly replies: Buffer[] = [];
  private waiters: (() => void)[] = [];
  private constructor(private readonly socket: Socket, private readonly port: number) {
    socket.on('message', (m) => {
      this.replies.push(m);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static async open(port: number): Promise<HandNas> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new HandNas(socket, port);
  }

  send(bytes: Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(bytes, this.port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  }

  /** Resolves once `count` replies in all have come (throws after `timeoutMs`). */
  async until(count: number, timeoutMs = 10_000): Promise<Buffer[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.replies.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`expected ${count} replies, got ${this.replies.length}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
    return this.replies.slice(0, count);
  }

  /** Sends and waits for the reply to this very request. */
  async ask(req: BuiltRequest): Promise<Buffer> {
    const before = this.replies.length;
    await this.send(req.bytes);
    const replies = await this.until(before + 1);
    return replies[before]!;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
