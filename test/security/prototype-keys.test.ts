import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { consentLines } from '../../src/interaction/consent.js';
import { PushWorld } from '../support/push-world.js';

/**
 * Audit item 8: `?notice=constructor` on the waiting page printed "function Object() { [native
 * code] }": the notice was looked up as NOTICES[userInput] in an object literal, which answers
 * with whatever Object.prototype holds. Every lookup keyed by request input is an own-property
 * lookup (a Map) now.
 */
const PROTOTYPE_KEYS = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', '__defineGetter__'];

describe('lookups keyed by request input see only their own entries', () => {
  let w: PushWorld;
  let browser: Awaited<ReturnType<PushWorld['startSignIn']>>['browser'];
  let uid = '';
  beforeAll(async () => {
    w = await PushWorld.start({ idp: { storage: 'postgres' } });
    await w.enrollPhone();
    const started = await w.startSignIn();
    ({ browser, uid } = started);
    const wait = await browser.submit(started.next.body, /\/push$/, {});
    expect(wait.url).toMatch(/\/wait$/);
  });
  afterAll(() => w.close());

  it.each(PROTOTYPE_KEYS)('?notice=%s on the waiting page shows no notice and no source code', async (key) => {
    const page = await browser.go(`/interaction/${uid}/wait?notice=${encodeURIComponent(key)}`);
    expect(page.res.status).toBe(200);
    expect(page.body).toContain('Approve on your phone');
    expect(page.body).not.toContain('id="notice"');
    expect(page.body).not.toMatch(/native code|function |\[object /);
  });

  it('a known notice still shows (the control)', async () => {
    const page = await browser.go(`/interaction/${uid}/wait?notice=too_soon`);
    expect(page.body).toContain('id="notice"');
    expect(page.body).toContain('A request was sent a moment ago');
  });

  it.each(PROTOTYPE_KEYS)('the consent page words the scope or claim "%s" as itself', (key) => {
    const lines = consentLines([key], [key]);
    expect(lines.join('\n')).not.toMatch(/native code|function |\[object /);
    expect(lines).toEqual([`Use the permission \u201c${key}\u201d`, `See your \u201c${key}\u201d`]);
  });
});
