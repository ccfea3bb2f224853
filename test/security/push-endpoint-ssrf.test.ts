/**
 * Server-side request forgery through the push endpoint (audit item 4). A device chooses the URL the
 * IdP POSTs to on every push; an attacker with an enrollment code (or a stolen device key) would
 * point it at cloud metadata, Redis on loopback or the private network. What they must observe:
 * the registration refused with a 400 (and nothing changed: the code still unused, the old
 * subscription still there), and never a connection from the IdP, even for an endpoint stored
 * before this check or a vendor's name that resolves inward at send time (DNS rebinding).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:net';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/log.js';
import { createPushEndpointGuard, type PushResolver } from '../../src/push/endpoint-guard.js';
import { parsePushServices } from '../../src/push/endpoint-policy.js';
import { createPushTransport } from '../../src/push/transport.js';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import { startPushService, type PushServiceDouble } from '../support/push-service.js';
import type { PushWorld } from '../support/push-world.js';
import { addUser, CALLBACK, dispatched, enroll, newestChallenge, sendPush, startWorld } from '../signin/helpers.js';

/** A TCP listener on 127.0.0.1 that counts connections: the stand-in for Redis or a metadata service. */
async function startCanary(): Promise<{ server: Server; port: number; connections: () => number }> {
  let count = 0;
  const server = createServer((socket) => {
    count += 1;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port, connections: () => count };
}

/**
 * The tests' DNS: a browser vendor's name pointed inward (as a rebinding attacker or a poisoned
 * resolver would), and nothing else resolves. No test ever reaches a real push service.
 */
const lookedUp: string[] = [];
const resolver: PushResolver = async (hostname) => {
  lookedUp.push(hostname);
  if (hostname === 'fcm.googleapis.com') return [{ address: '127.0.0.1', family: 4 }];
  if (hostname === 'web.push.apple.com') return [{ address: '93.184.215.14', family: 4 }, { address: 'fd00::1', family: 6 }];
  if (hostname === 'push.operator.test') return [{ address: '127.0.0.1', family: 4 }];
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
};

function logLines(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  return { lines, stream: new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } }) };
}

async function enrollRaw(w: PushWorld, code: string, endpoint: string) {
  const { publicJwk } = await SimulatedAuthenticator.newKey();
  const res = await fetch(`${w.t.url}/api/device/enroll`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ code, name: 'Attacker', publicJwk, push: { endpoint, keys: w.pushService.createSubscription().keys } }),
  });
  return { status: res.status, body: (await res.json()) as { error: string; error_description: string } };
}

describe('push endpoints: only push services (PUSH_SERVICES lists the local one)', () => {
  let w: PushWorld;
  let canary: Awaited<ReturnType<typeof startCanary>>;
  const log = logLines();

  beforeAll(async () => {
    canary = await startCanary();
    w = await startWorld({ idp: { idp: { pushResolver: resolver, logger: createLogger('warn', log.stream) } } });
  });
  afterAll(async () => {
    await w.close();
    await new Promise((resolve) => canary.server.close(resolve));
  });

  const hostile = () => [
    'https://169.254.169.254/latest/meta-data/iam/security-credentials/',
    'https://127.0.0.1:6379/',
    `https://127.0.0.1:${canary.port}/push/x`,
    'https://[::1]/',
    'https://10.0.0.5/push',
    'https://192.168.1.1/push',
    'https://[fd00::1]/push',
    'https://[::ffff:127.0.0.1]/push',
    'https://0.0.0.0/push',
    'https://push.example.com/push', // a host in no list
    'https://fcm.googleapis.com.evil.example/push', // a vendor's name as a prefix
    `http://${w.pushService.host}/push/x`, // listed host, but not https
    `https://user:pw@${w.pushService.host}/push/x`, // credentials in the URL
  ];

  it('refuses enrollment with a forbidden endpoint (400), and the code stays usable', async () => {
    const offer = await w.t.idp.deviceService.issueEnrollment(w.accountId, 'test');
    for (const endpoint of hostile()) {
      const res = await enrollRaw(w, offer.code, endpoint);
      expect({ endpoint, status: res.status, error: res.body.error }).toEqual({ endpoint, status: 400, error: 'invalid_request' });
      expect(res.body.error_description).toMatch(/endpoint/);
    }
    expect(await w.t.idp.devices.listByAccount(w.accountId)).toHaveLength(0);
    expect(canary.connections()).toBe(0);
    // The same code still enrolls with a real (listed) push service.
    const sub = w.pushService.createSubscription();
    const phone = await SimulatedAuthenticator.enroll(w.t.url, offer.code, { push: { endpoint: sub.endpoint, keys: sub.keys } });
    expect(phone.deviceId).toBeTruthy();
  });

  it('refuses a forbidden endpoint at PUT /api/device/push-subscription (400), keeping the old one', async () => {
    const { phone, subscription } = await enroll(w);
    for (const endpoint of hostile()) {
      const res = await phone.updatePush({ endpoint, keys: subscription!.keys });
      expect({ endpoint, status: res.status, error: (res.body as { error: string }).error }).toEqual({ endpoint, status: 400, error: 'invalid_request' });
    }
    expect((await w.t.idp.devices.get(phone.deviceId))!.push!.endpoint).toBe(subscription!.endpoint);
    expect(canary.connections()).toBe(0);
  });

  it('never connects to an endpoint stored before the check: the push fails, is logged, and the passcode signs in', async () => {
    const accountId = await addUser(w, 'bob');
    const { phone, subscription } = await enroll(w, { accountId });
    // As a row written before this release would hold it (the API no longer takes it).
    await w.t.idp.devices.setPush(phone.deviceId, { endpoint: `https://127.0.0.1:${canary.port}/push/x`, keys: subscription!.keys });

    const s = await w.startSignIn({ username: 'bob' });
    await sendPush(s.browser, s.next.body);
    const cid = (await newestChallenge(phone)).id;
    expect(await dispatched(w, cid)).toMatchObject({ sent: 0, failed: 1 });
    expect(canary.connections()).toBe(0);
    expect(log.lines.join('')).toMatch(/"reason":"refused_endpoint: push endpoint refused: an IP address \(loopback\)"/);

    const typed = await s.browser.go(`/interaction/${s.uid}/passcode`);
    const done = await s.browser.submit(typed.body, /\/passcode$/, { passcode: phone.currentTotp() });
    expect(done.url).toMatch(CALLBACK);
  });

  it('refuses, before connecting, a vendor\'s name that resolves to a private address at send time', async () => {
    const accountId = await addUser(w, 'carol');
    const { phone, subscription } = await enroll(w, { accountId });
    // Accepted by name (it is FCM's), but the resolver now points it at loopback (DNS rebinding).
    const accepted = await phone.updatePush({ endpoint: 'https://fcm.googleapis.com/wp/rebound', keys: subscription!.keys });
    expect(accepted.status).toBe(200);
    lookedUp.length = 0;

    const s = await w.startSignIn({ username: 'carol' });
    await sendPush(s.browser, s.next.body);
    const cid = (await newestChallenge(phone)).id;
    expect(await dispatched(w, cid)).toMatchObject({ sent: 0, failed: 1 });
    expect(lookedUp).toContain('fcm.googleapis.com');
    // Refused by the policy (no retry), not a connection that failed.
    expect(log.lines.join('')).toMatch(/"reason":"refused_endpoint: fcm\.googleapis\.com resolves to a loopback address"/);
    expect((await w.t.idp.devices.get(phone.deviceId))!.pushStatus).toBe('active');
  });
});

describe('the local push service without PUSH_SERVICES', () => {
  let w: PushWorld;
  beforeAll(async () => {
    // PUSH_CA trusts its certificate, but its address (127.0.0.1:port) is no browser vendor's.
    w = await startWorld({ idp: { env: { PUSH_SERVICES: '' }, idp: { pushResolver: resolver } } });
  });
  afterAll(() => w.close());

  it('is refused at enrollment and never receives a push for a stored subscription', async () => {
    const offer = await w.t.idp.deviceService.issueEnrollment(w.accountId, 'test');
    const sub = w.pushService.createSubscription();
    expect((await enrollRaw(w, offer.code, sub.endpoint)).status).toBe(400);

    const { phone } = await enroll(w, { push: false });
    await w.t.idp.devices.setPush(phone.deviceId, { endpoint: sub.endpoint, keys: sub.keys });
    const s = await w.startSignIn();
    await sendPush(s.browser, s.next.body);
    expect(await dispatched(w, (await newestChallenge(phone)).id)).toMatchObject({ sent: 0, failed: 1 });
    expect(w.pushService.tlsConnections).toBe(0);
  });
});

describe('the push transport\'s name resolution', () => {
  let service: PushServiceDouble;
  beforeAll(async () => { service = await startPushService(); });
  afterAll(() => service.close());

  const headers = { TTL: '60', 'Content-Type': 'application/octet-stream' };

  it('refuses a vendor name with any inward address before connecting', async () => {
    const transport = createPushTransport({ ca: service.ca, guard: createPushEndpointGuard({ resolve: resolver }) });
    const loopback = await transport.post(new URL('https://fcm.googleapis.com/wp/x'), headers, Buffer.alloc(1), 2000);
    expect(loopback).toEqual({ kind: 'error', reason: 'refused', message: 'fcm.googleapis.com resolves to a loopback address' });
    // One public and one ULA address: refused too (happy eyeballs may try either).
    const mixed = await transport.post(new URL('https://web.push.apple.com/x'), headers, Buffer.alloc(1), 2000);
    expect(mixed).toEqual({ kind: 'error', reason: 'refused', message: 'web.push.apple.com resolves to a unique local (ULA) address' });
    await transport.close();
  });

  it('connects an operator\'s name through the same resolver (its addresses are the operator\'s call)', async () => {
    const port = new URL(service.origin).port;
    const guard = createPushEndpointGuard({ services: parsePushServices(`push.operator.test:${port}`), resolve: resolver });
    const transport = createPushTransport({ ca: service.ca, guard });
    // The double's certificate (CN push-service-double, IP 127.0.0.1) does not name
    // push.operator.test: the name check fails once the double has answered, which shows the
    // resolver's address was the one connected to.
    const answer = await transport.post(new URL(`https://push.operator.test:${port}/push/x`), headers, Buffer.alloc(1), 2000);
    expect(answer).toMatchObject({ kind: 'error', reason: 'network_error' });
    expect((answer as { message: string }).message).toMatch(/push\.operator\.test.*push-service-double/);
    await transport.close();
  });
});
