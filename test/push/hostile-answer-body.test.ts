import { execFileSync } from 'node:child_process';
import { createECDH, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http2 from 'node:http2';
import type { ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createPushEndpointGuard } from '../../src/push/endpoint-guard.js';
import { parsePushServices } from '../../src/push/endpoint-policy.js';
import { createPushTransport, type PushTransport } from '../../src/push/transport.js';
import type { PushPayload, PushSubscriptionJson, SendOptions } from '../../src/push/types.js';
import { generateVapidKeys } from '../../src/push/vapid.js';
import { createWebPushNotifier } from '../../src/push/webpush-sender.js';

/**
 * A push service (the endpoint of an attacker's own phone, at a host PUSH_SERVICES allows) that
 * answers 201 and then streams a body that never ends, or cuts it short. Red-team (push service
 * round): the sender took an answer only at the body's end, so it read gigabytes for 5 s, called
 * the accepted message a timeout and sent it twice more (15 s of the IdP's CPU per push, other
 * users' sign-ins slowed). The status is now the answer; the body is read to 64 KiB at most.
 */
type Mode = 'endless' | 'cut';
interface Seen { requests: number; closed: number; bytes: number }
const chunk = Buffer.alloc(16_384, 0x61);
let dir: string;
let key: Buffer;
let cert: Buffer;
const servers: Array<{ close(): void }> = [];
let transport: PushTransport;

function answer(mode: Mode, seen: Seen) {
  return (req: { resume(): void }, answered: ServerResponse | http2.Http2ServerResponse) => {
    const res = answered as ServerResponse; // the calls below are the same on both
    seen.requests++;
    req.resume();
    res.on('close', () => { seen.closed++; });
    res.on('error', () => undefined);
    if (mode === 'cut') {
      res.writeHead(201, { 'content-length': '100' });
      res.write('x');
      setTimeout(() => res.socket?.destroy(), 20);
      return;
    }
    res.writeHead(201);
    const go = () => { while (!res.destroyed && !res.writableEnded && seen.bytes < 512 * 1024 * 1024) { seen.bytes += chunk.length; if (!res.write(chunk)) break; } };
    res.on('drain', go);
    go();
  };
}

async function listen(server: https.Server | http2.Http2SecureServer): Promise<number> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

function subscription(port: number): PushSubscriptionJson {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return { endpoint: `https://127.0.0.1:${port}/wpush/${randomBytes(8).toString('hex')}`, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') } };
}

const payload: PushPayload = {
  v: 1, type: 'challenge', cid: 'ch_x', issuer: 'https://idp.example.com', deviceId: 'dev_x', title: 'Sign-in request', body: 'Demo', app: 'Demo',
  ip: '203.0.113.7', location: null, browser: 'Chrome on Linux', createdAt: 0, expiresAt: 120_000, numberMatching: false,
};
const options: SendOptions = { ttlSeconds: 100, urgency: 'high', topic: 'hostile' };
const seen: Record<string, Seen> = {};
const ports: Record<string, number> = {};

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'push-hostile-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${dir}/key.pem`, '-out', `${dir}/cert.pem`,
    '-days', '1', '-subj', '/CN=push', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  key = readFileSync(`${dir}/key.pem`);
  cert = readFileSync(`${dir}/cert.pem`);
  for (const name of ['h1-endless', 'h2-endless', 'h1-cut']) seen[name] = { requests: 0, closed: 0, bytes: 0 };
  ports['h1-endless'] = await listen(https.createServer({ key, cert }, answer('endless', seen['h1-endless']!)));
  ports['h2-endless'] = await listen(http2.createSecureServer({ key, cert }, answer('endless', seen['h2-endless']!) as never));
  ports['h1-cut'] = await listen(https.createServer({ key, cert }, answer('cut', seen['h1-cut']!)));
  transport = createPushTransport({
    ca: [cert.toString('utf8')],
    guard: createPushEndpointGuard({ services: parsePushServices(Object.values(ports).map((p) => `127.0.0.1:${p}`).join(',')) }),
  });
});

afterAll(async () => {
  await transport?.close();
  for (const s of servers) s.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a push service\'s answer is its status, whatever its body does', () => {
  it.each(['h1-endless', 'h2-endless', 'h1-cut'])('%s: sent once, and the sender stops reading the body', async (name) => {
    const notifier = createWebPushNotifier({ vapid: { ...generateVapidKeys(), subject: 'mailto:ops@idp.example' }, transport });
    try {
      const result = await notifier.send(subscription(ports[name]!), payload, options);
      expect(result).toMatchObject({ status: 'sent', attempts: 1 });
      expect(seen[name]!.requests).toBe(1); // not sent again
      for (let i = 0; i < 100 && seen[name]!.closed < 1; i++) await new Promise((r) => setTimeout(r, 50));
      expect(seen[name]!.closed).toBe(1); // the sender ended the response: it did not read on
      expect(seen[name]!.bytes).toBeLessThan(64 * 1024 * 1024);
    } finally { await notifier.close(); }
  }, 30_000);
});
