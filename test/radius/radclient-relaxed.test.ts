import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PushWorld } from '../support/push-world.js';
import { enroll } from '../signin/helpers.js';
import { accessRequest, HandNas, PROXY_STATE } from './packets.js';
import { printTranscripts, radclient, request, startRadiusWorld, type RadiusWorld } from './world.js';

/**
 * A NAS too old to send Message-Authenticator, let in by `requireMessageAuthenticator: false`
 * (which logs a BlastRADIUS warning at start): its requests are answered without one, but a
 * Message-Authenticator it does send must still verify, and a Proxy-State without one (the
 * attack's carrier) is still dropped. Replies still carry Message-Authenticator first.
 */
describe('RADIUS with requireMessageAuthenticator: false', () => {
  let r: RadiusWorld;
  let secret: string;

  beforeAll(async () => {
    r = await startRadiusWorld([{ name: 'old-nas', address: '127.0.0.1', requireMessageAuthenticator: false }]);
    secret = r.secrets['old-nas']!;
  });
  afterAll(async () => {
    printTranscripts('radclient exchanges (relaxed client)');
    await r?.close();
  });

  it('answers a request without Message-Authenticator, with one first in the reply', async () => {
    await enroll(r.w, { push: false });
    const reply = await radclient({ port: r.port, secret, attributes: request({ user: 'alice', password: PushWorld.password, messageAuthenticator: false }), label: 'relaxed client, no Message-Authenticator: answered' });
    expect(reply.code).toBe('Access-Challenge');
    expect(reply.order[0]).toBe('Message-Authenticator');
  });

  it('still drops a wrong Message-Authenticator (a wrong secret)', async () => {
    const reply = await radclient({ port: r.port, secret: `${secret}x`, attributes: request({ user: 'alice', password: PushWorld.password }), timeoutSeconds: 1, label: 'relaxed client, wrong secret: no reply' });
    expect(reply.code).toBeNull();
  });

  it('still drops a Proxy-State that no Message-Authenticator protects', async () => {
    const nas = await HandNas.open(r.port);
    try {
      const before = r.server.counters().proxy_state_without_message_authenticator;
      await nas.send(accessRequest({ secret, user: 'alice', password: 'x', ma: 'none', attrs: [[PROXY_STATE, Buffer.from('collision-blob')]] }).bytes);
      const probe = accessRequest({ secret, user: 'nobody', password: 'x', ma: 'none' });
      expect((await nas.ask(probe))[1]).toBe(probe.identifier);
      expect(nas.replies).toHaveLength(1);
      expect(r.server.counters().proxy_state_without_message_authenticator).toBe(before + 1);
    } finally {
      await nas.close();
    }
  });
});
