import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { RadiusServer } from '../../src/radius/server.js';
import { PushWorld } from '../support/push-world.js';
import { enroll, newestChallenge, waitUntil } from '../signin/helpers.js';
import { accessRequest, expectAuthenticReply, HandNas, STATE } from './packets.js';
import { radclient, request, startRadiusWorld, type RadiusWorld } from './world.js';

const NAS_IDENTIFIER = 32;

/**
 * A NAS configured with two RADIUS servers retries the other when one goes quiet (docs/production.md).
 * Red-team (processes): a server stopped while an "Enter" waited for the phone sent nothing and had
 * spent the State, so the retry at the other server was refused, and the approval the user then gave
 * let no one in. The stopping server now hands the State back and leaves the push on the phone.
 */
describe('RADIUS: a server stopping while the phone is still to answer', () => {
  let r: RadiusWorld;
  let other: RadiusServer;
  let secret: string;

  beforeAll(async () => {
    r = await startRadiusWorld([{ name: 'vpn', displayName: 'Office VPN', address: '127.0.0.1', mode: 'challenge', maxWaitSeconds: 20 }]);
    secret = r.secrets.vpn!;
    other = await r.w.t.idp.radius.listen(0, '127.0.0.1'); // the second server, on the same stores
  });
  afterAll(async () => {
    await other?.close();
    await r?.close();
  });

  it('the NAS\'s retry of the same Enter at the other server is held there and accepted when the phone approves', async () => {
    const { phone } = await enroll(r.w);
    const first = await radclient({ port: r.port, secret, attributes: request({ user: 'alice', password: PushWorld.password }) });
    expect(first.code).toBe('Access-Challenge');
    const number = Number(/number (\d{2})/.exec(first.attributes['Reply-Message'] ?? '')?.[1]);
    // The very same datagram to both servers, as a NAS retries (its Request Authenticator taken once
    // per NAS, replays.ts: the stopping server gives it back with the State).
    const enter = accessRequest({ secret, user: 'alice', attrs: [[STATE, Buffer.from(first.attributes.State!.slice(2), 'hex')], [NAS_IDENTIFIER, Buffer.from('test-nas')]] });
    const toFirst = await HandNas.open(r.port);
    await toFirst.send(enter.bytes);
    await waitUntil(async () => r.server.inFlight() === 1, 5000, 'the Enter held at the first server');
    await r.server.close(); // SIGTERM's path: waits stop, nothing more is sent
    await new Promise((res) => setTimeout(res, 300));
    expect(toFirst.replies).toEqual([]);
    await toFirst.close();

    const challenge = await newestChallenge(phone);
    expect((await phone.challenge(challenge.id)).status).toBe('pending'); // left on the phone
    const toOther = await HandNas.open(other.address().port);
    const retried = toOther.ask(enter);
    await waitUntil(async () => other.inFlight() === 1, 5000, 'the retry held at the other server');
    expect((await phone.respond(challenge.id, 'approve', { number })).body).toEqual({ status: 'approved' });
    const reply = await retried;
    await toOther.close();
    expect(reply[0]).toBe(2); // Access-Accept
    expectAuthenticReply(reply, enter, secret);
  }, 60_000);
});
