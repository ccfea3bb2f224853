import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { hashPassword } from '../../src/accounts/passwords.js';
import { createEndAccountSessions } from '../../src/oidc/sessions.js';
import { startTestIdp, type TestIdp } from '../support/idp.js';

/**
 * The account's end-of-sessions mark (accounts.sessions_ended_at), as `user sign-out`, a new password,
 * a disable or a revoke write it from whichever host runs them. Red-team (end of access round): of two
 * ends at once, the earlier one committing last moved the mark back, so a sign-in between the two
 * outlived the later end. Red-team (review of that fix): a mark written by a clock ten minutes fast
 * then stood for ten minutes, refusing every sign-in, and no later end could bring it back.
 */
describe('the end-of-sessions mark', () => {
  let t: TestIdp;
  beforeAll(async () => { t = await startTestIdp({ storage: 'pglite', redis: 'standin' }); }, 60_000);
  afterAll(() => t.close());

  const account = async () => (await t.idp.accounts.create({ username: `mark-${randomBytes(3).toString('hex')}`, passwordHash: await hashPassword('end mark password 1') })).id;
  const endAt = (at: number) => createEndAccountSessions(t.idp.db, null, () => at);
  const mark = async (id: string) => (await t.idp.accounts.findById(id))!.sessionsEndedAt!.getTime();

  it('two ends at once: the later one stands, whichever commits last', async () => {
    const id = await account();
    const now = Date.now();
    await endAt(now + 800)(id);
    await endAt(now)(id);
    expect(await mark(id)).toBe(now + 800);
  });

  it('a mark from a clock that ran ahead is replaced by the next end from a right one', async () => {
    const id = await account();
    const now = Date.now();
    await endAt(now + 10 * 60_000)(id);
    await endAt(now)(id);
    expect(await mark(id)).toBe(now);
  });
});
