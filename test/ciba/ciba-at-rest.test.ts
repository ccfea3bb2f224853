import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { CibaWorld } from './world.js';

/**
 * A copy of Redis or the database names no CIBA request: the auth_req_id (with the client's
 * credentials, a bearer of the user's tokens) is kept only as SHA-256 or sealed under the KEK,
 * like every other token here (README.md, Security: stolen database).
 */
describe('CIBA requests at rest', () => {
  let w: CibaWorld;
  beforeAll(async () => {
    w = await CibaWorld.start();
  });
  afterAll(async () => {
    await w?.close();
  });

  it('no Redis key or value and no database row holds the auth_req_id, pending or approved', async () => {
    const quinn = await w.user('quinn');
    const rp = await w.rp();
    const started = await oidc.initiateBackchannelAuthentication(rp, { scope: 'openid', login_hint: 'quinn', binding_message: 'At rest' });
    const dump = async () => {
      const { redis } = w.t.idp;
      const prefix = (redis.options.keyPrefix ?? '') as string;
      const keys = (await redis.keys(`${prefix}*`)).map((k) => k.slice(prefix.length));
      const values: string[] = [];
      for (const key of keys) {
        const type = await redis.type(key);
        if (type === 'string') values.push(String(await redis.get(key)));
        else if (type === 'hash') values.push(JSON.stringify(await redis.hgetall(key)));
        else if (type === 'zset' || type === 'list') values.push(JSON.stringify(type === 'zset' ? await redis.zrange(key, 0, -1) : await redis.lrange(key, 0, -1)));
      }
      const rows = await w.t.idp.db.query<{ row: string }>('SELECT row_to_json(p)::text AS row FROM oidc_payloads p');
      return [...keys, ...values, ...rows.map((r) => r.row)].join('\n');
    };
    expect(await dump()).not.toContain(started.auth_req_id);
    const push = await w.pushService.waitForMessage(quinn.subscription.id);
    await quinn.phone.respond(push.payload.cid, 'approve');
    await oidc.pollBackchannelAuthenticationGrant(rp, started);
    expect(await dump()).not.toContain(started.auth_req_id);
  });
});
