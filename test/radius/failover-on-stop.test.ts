import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { RadiusServer } from '../../src/radius/server.js';
import { PushWorld } from '../support/push-world.js';
import { enroll, newestChallenge, waitUntil } from '../signin/helpers.js';
import { radclient, request, startRadiusWorld, type RadiusWorld } from './world.js';

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
    const enter = request({ user: 'alice', state: first.attributes.State! });
    const quiet = radclient({ port: r.port, secret, attributes: enter, timeoutSeconds: 3 });
    await waitUntil(async () => r.server.inFlight() === 1, 5000, 'the Enter held at the first server');
    await r.server.close(); // SIGTERM's path: waits stop, nothing more is sent
    expect((await quiet).code).toBeNull();

    const challenge = await newestChallenge(phone);
    expect((await phone.challenge(challenge.id)).status).toBe('pending'); // left on the phone
    const retried = radclient({ port: other.address().port, secret, attributes: enter, timeoutSeconds: 15 });
    await waitUntil(async () => other.inFlight() === 1, 5000, 'the retry held at the other server');
    expect((await phone.respond(challenge.id, 'approve', { number })).body).toEqual({ status: 'approved' });
    expect((await retried).code).toBe('Access-Accept');
  }, 60_000);
});
