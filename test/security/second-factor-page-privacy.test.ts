import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PushWorld } from '../support/push-world.js';

/**
 * Audit item 8: the second-factor page listed the user's devices by name ("It goes to: Alice's
 * iPhone 15") to whoever had typed the password, telling a password thief which phone to steal
 * or imitate. Before the second factor the page must say nothing about the devices: no names, and
 * not how many there are.
 */
describe('the second-factor page names no device before the second factor', () => {
  let w: PushWorld;
  beforeAll(async () => { w = await PushWorld.start({ idp: { storage: 'postgres' } }); });
  afterAll(() => w.close());

  /** The page as a password thief sees it, without what differs on every visit. */
  const choicePage = async () => {
    const { next, uid } = await w.startSignIn();
    expect(next.url).toMatch(/\/second-factor$/);
    return next.body.replaceAll(uid, 'UID').replace(/name="csrf" value="[^"]+"/g, 'name="csrf" value="CSRF"');
  };

  it('shows neither the names nor the number of the phones', async () => {
    await w.enrollPhone({ name: "Alice's iPhone 15" });
    const withOne = await choicePage();
    expect(withOne).toContain('Send a push to my phone');
    expect(withOne).not.toContain('iPhone');

    await w.enrollPhone({ name: 'Work Pixel 8' });
    const withTwo = await choicePage();
    expect(withTwo).not.toContain('iPhone');
    expect(withTwo).not.toContain('Pixel');
    // One phone or two: the page is the same, so it does not count them either.
    expect(withTwo).toBe(withOne);
  });
});
