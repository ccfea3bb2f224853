import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { hashPassword } from '../../src/accounts/passwords.js';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import { uniquePrefix } from '../support/env.js';
import { freePort, freshSchemaUrl, startTestIdp, type TestIdp } from '../support/idp.js';
import { startPushService, type PushServiceDouble } from '../support/push-service.js';
import { AGENT_ENV, AGENTS, MATCHING, PASSWORD, VPN } from './helpers.js';

/**
 * Guards the wake-up path across processes (docs/architecture.md, sign-in step 9) for the agent
 * API: two IdP processes share one Redis and one PostgreSQL schema. A gateway's call held by A
 * answers when the phone's approval lands on B; a transaction started on A is polled on B.
 */
describe('agent API on two IdP processes', () => {
  const schema = `t_agent2_${Date.now()}_${Math.random().toString(36).slice(2, 8)}`;
  const redisPrefix = uniquePrefix('agent2');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'idp-agent2-'));
  let pushService: PushServiceDouble;
  let a: TestIdp;
  let b: TestIdp;
  let bUrl: string;
  let accountId: string;

  beforeAll(async () => {
    pushService = await startPushService();
    const portA = await freePort();
    const common = {
      storage: 'postgres' as const, redis: 'real' as const, schema, redisPrefix, dataDir, agents: AGENTS,
      env: { ISSUER: `http://127.0.0.1:${portA}`, ...AGENT_ENV, ...pushService.env() },
    };
    a = await startTestIdp({ ...common, port: portA });
    b = await startTestIdp(common);
    bUrl = `http://127.0.0.1:${b.settings.port}`;
    accountId = (await a.idp.accounts.create({ username: 'alice', displayName: 'Alice', passwordHash: await hashPassword(PASSWORD) })).id;
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await pushService?.close();
    await (await freshSchemaUrl(schema)).drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const post = (base: string, auth: string, body: unknown) => fetch(`${base}/api/agent/authenticate`, {
    method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify(body),
  });

  async function phoneAtB(): Promise<SimulatedAuthenticator> {
    const offer = await a.idp.deviceService.issueEnrollment(accountId, 'test');
    const subscription = pushService.createSubscription();
    return SimulatedAuthenticator.enroll(bUrl, offer.code, { push: { endpoint: subscription.endpoint, keys: subscription.keys } });
  }

  async function pendingOn(phone: SimulatedAuthenticator) {
    for (let i = 0; i < 200; i++) {
      const list = await phone.pending();
      if (list.length > 0) return list[0]!;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('no pending challenge');
  }

  it('a wait-mode call held by A answers 200 when B takes the approval', async () => {
    const phone = await phoneAtB();
    const held = post(a.url, VPN, { username: 'alice', password: PASSWORD, client_ip: '198.51.100.200' });
    const challenge = await pendingOn(phone);
    expect((await phone.respond(challenge.id, 'approve')).status).toBe(200);
    const res = await held;
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'approved', account: { id: accountId, username: 'alice' } });
    await phone.unregister();
  });

  it('a transaction started on A is long-polled on B and approved', async () => {
    const phone = await phoneAtB();
    const start = await post(a.url, MATCHING, { username: 'alice', password: PASSWORD, client_ip: '198.51.100.201' });
    expect(start.status).toBe(202);
    const { transaction_id: tx, match_number: number } = (await start.json()) as { transaction_id: string; match_number: number };
    const challenge = await pendingOn(phone);
    const polled = fetch(`${bUrl}/api/agent/transactions/${tx}?wait=15`, { headers: { authorization: MATCHING } });
    expect((await phone.respond(challenge.id, 'approve', { number })).status).toBe(200);
    const res = await polled;
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'approved', account: { id: accountId } });
  });
});
