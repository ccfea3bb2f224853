import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DEFAULT_POLICY } from '../../src/config/clients.js';
import { newSignInId, type SignInRef } from '../../src/signin/index.js';
import { PushWorld } from '../support/push-world.js';
import { enroll, startWorld } from './helpers.js';

/** A front door without an id of its own (the agent API, RADIUS) takes one from the core. */
describe('the core mints sign-in ids', () => {
  let w: PushWorld;
  beforeAll(async () => { w = await startWorld(); });
  afterAll(async () => { await w.close(); });

  it('128 random bits, URL-safe, never the same twice', () => {
    const ids = Array.from({ length: 2000 }, newSignInId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) {
      expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(Buffer.from(id, 'base64url')).toHaveLength(16);
    }
  });

  it('a sign-in under a minted id keeps its state under that id and finishes', async () => {
    const { phone } = await enroll(w, { push: false });
    const ref: SignInRef = {
      id: newSignInId(),
      requester: { ip: '203.0.113.10', userAgent: 'agent/1.0', app: { clientId: 'agent', name: 'Agent', policy: { ...DEFAULT_POLICY, numberMatching: false } } },
      ttlSeconds: 120,
    };
    const first = await w.t.idp.signin.password(ref, { username: 'alice', password: PushWorld.password, passcode: '' });
    expect(first.kind).not.toBe('failed');
    const state = await w.t.idp.signin.state(ref.id);
    expect(state).toMatchObject({ accountId: w.accountId });
    expect(await w.t.idp.signin.state(newSignInId())).toBeNull();
    const done = await w.t.idp.signin.passcode({ ...ref, state: state! }, phone.currentTotp());
    expect(done).toMatchObject({ kind: 'finished', login: { accountId: w.accountId } });
    expect(await w.t.idp.signin.state(ref.id)).toBeNull();
  });
});
