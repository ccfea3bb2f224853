import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { runAdminCli } from '../support/admin-cli.js';
import { TEST_REDIS_URL } from '../support/env.js';
import { PushWorld } from '../support/push-world.js';
import { addUser, enroll } from '../signin/helpers.js';
import { radclient, request, startRadiusWorld, type RadiusWorld } from './world.js';

/** Red-team finding (fixed): a RADIUS Access-Challenge State won with the OLD password got an Access-Accept after `user set-password`. */
describe('RADIUS State across a password change', () => {
  let r: RadiusWorld;
  beforeAll(async () => { r = await startRadiusWorld([{ name: 'vpn', displayName: 'Office VPN', address: '127.0.0.1', mode: 'challenge', maxWaitSeconds: 20 }]); });
  afterAll(async () => { await r?.close(); });
  it('no Access-Accept for the old password\'s State', async () => {
    const id = await addUser(r.w, 'ron');
    const { phone } = await enroll(r.w, { accountId: id, push: false });
    const send = (attributes: string) => radclient({ port: r.port, secret: r.secrets.vpn!, attributes, label: 'rte' });
    const first = await send(request({ user: 'ron', password: PushWorld.password }));
    expect(first.code).toBe('Access-Challenge');
    const out = await runAdminCli(['user', 'set-password', 'ron', '--password', 'a brand new password 97'], { env: { DATABASE_URL: r.w.t.settings.databaseUrl!, REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: r.w.t.idp.redis.options.keyPrefix ?? 'x:', DATA_DIR: r.w.t.settings.dataDir, ISSUER: r.w.t.url } });
    expect(out.status).toBe(0);
    const second = await send(request({ user: 'ron', password: phone.currentTotp(), state: first.attributes.State! }));
    expect(second.code).toBe('Access-Reject');
  });
});
