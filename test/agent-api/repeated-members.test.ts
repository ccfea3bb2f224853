import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { repeatedMember } from '../../src/http/json-members.js';
import type { PushWorld } from '../support/push-world.js';
import { auditEvents } from '../signin/helpers.js';
import { call, freshIp, freshUser, PASSWORD, startAgentWorld } from './helpers.js';

/**
 * A member named twice in a gateway's JSON is refused (RFC 7493 2.3). Red-team (hostile input):
 * `{"username":"alice","username":"bob"}` checked bob's password while a proxy in front, reading
 * the first member, saw alice.
 */
describe('agent API: a JSON member named twice', () => {
  let w: PushWorld;
  beforeAll(async () => { w = await startAgentWorld(); });
  afterAll(() => w.close());

  it('which names repeat (pure): compared decoded, each object on its own', () => {
    expect(repeatedMember('{"a":1,"b":2}')).toBeNull();
    expect(repeatedMember('{"a":1,"a":2}')).toBe('a');
    expect(repeatedMember('{"a":1,"\\u0061":2}')).toBe('a');
    expect(repeatedMember('{"a":{"a":1},"b":[{"a":1},{"a":2}]}')).toBeNull();
    expect(repeatedMember('{"x":[{"a":1,"a":2}]}')).toBe('a');
    expect(repeatedMember('{"a":"\\"a\\":","b":"a"}')).toBeNull();
    expect(repeatedMember('["a","a"]')).toBeNull();
  });

  it('is a 400 invalid_request, and no password is checked', async () => {
    const victim = await freshUser(w, { phone: false });
    const other = await freshUser(w, { phone: false });
    const before = (await auditEvents(w, 'signin.failure')).length;
    const body = `{"username":${JSON.stringify(victim.username)},"username":${JSON.stringify(other.username)},"password":"wrong","passcode":"","client_ip":"${freshIp()}"}`;
    const res = await call(w, 'POST', '/api/agent/authenticate', { body });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_request' });
    expect(String(res.body.error_description)).toContain('"username" twice');
    expect((await auditEvents(w, 'signin.failure')).length).toBe(before);
    // The same request with one username is read as ever.
    const once = await call(w, 'POST', '/api/agent/authenticate', { body: { username: victim.username, password: PASSWORD, passcode: '123456', client_ip: freshIp() } });
    expect(once.status).not.toBe(400);
  });
});
