import { afterAll, describe, expect, it } from '@jest/globals';
import { PushWorld } from '../support/push-world.js';
import { enroll, startWorld } from '../signin/helpers.js';

/**
 * Audit item 11: `policy.numberMatching` in the enrollment answer was hard-coded `true`. It is
 * now true only when every relying app asks for number matching (so every request carries a
 * number); each request still says so itself.
 */
describe('the enrollment answer tells the real number-matching policy', () => {
  const worlds: PushWorld[] = [];
  afterAll(async () => { for (const w of worlds) await w.close(); });

  it.each([[true], [false]])('numberMatching %s in the relying app gives policy.numberMatching %s', async (numberMatching) => {
    const w = await startWorld({ login: { numberMatching } });
    worlds.push(w);
    const { phone } = await enroll(w, { push: false });
    expect(phone.enrollment!.policy.numberMatching).toBe(numberMatching);
  });
});
