import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import { PushWorld } from '../support/push-world.js';
import { unshowable } from '../../src/config/shown-name.js';
import { buildNoticePayload, displayText } from '../../src/push/payload.js';

/**
 * Red-team (pages): a phone named only with characters that show nothing (a zero-width space, a
 * word joiner, a Hangul filler) enrolled, and the "A new authenticator was added" notice the other
 * phones get, the user's one sign that someone added a phone, then named nothing: `"" can now
 * approve sign-ins`. A name with a zero-width character inside looked exactly like the user's own.
 */
describe('a device name must show something', () => {
  let w: PushWorld;
  beforeAll(async () => { w = await PushWorld.start({ idp: { storage: 'postgres' } }); }, 60_000);
  afterAll(() => w?.close());

  it('refuses invisible names at enrollment (400, the code still usable) and the notice names the phone that enrolled', async () => {
    const first = await w.enrollPhone({ name: "Alice's iPhone" });
    expect(first.subscription).not.toBeNull();
    const offer = await w.t.idp.deviceService.issueEnrollment(w.accountId, 'test');
    for (const name of ['\u200B', '\u2060\u2060', '\u3164', '\u2800', '\uFEFF', '\u00AD', '\u0301', "Alice's\u200B iPhone", "Alice's\u200D iPhone", '\u{E0041}x']) {
      await expect(SimulatedAuthenticator.enroll(w.t.url, offer.code, { name, push: null })).rejects.toMatchObject({ status: 400 });
    }
    expect(w.pushService.notices).toHaveLength(0);
    const phone = await SimulatedAuthenticator.enroll(w.t.url, offer.code, { name: 'Work laptop', push: null });
    expect((await w.t.idp.devices.get(phone.deviceId))?.name).toBe('Work laptop');
    const deadline = Date.now() + 10_000;
    while (w.pushService.notices.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const bodies = w.pushService.notices.map((m) => (m.payload as unknown as { body: string }).body);
    expect(bodies).toEqual(['"Work laptop" can now approve sign-ins to your account. If it was not you, tell your administrator.']);
  }, 60_000);

  it('keeps names that join characters to write them: an emoji sequence, Persian with a non-joiner', async () => {
    for (const name of ['\u{1F469}\u200D\u{1F4BB} laptop', '\u06AF\u0648\u0634\u06CC\u200C\u0647\u0627', '\u2764\uFE0F phone']) {
      const offer = await w.t.idp.deviceService.issueEnrollment(w.accountId, 'test');
      const phone = await SimulatedAuthenticator.enroll(w.t.url, offer.code, { name, push: null });
      expect((await w.t.idp.devices.get(phone.deviceId))?.name).toBe(name);
    }
  }, 60_000);
});

describe('what the phone shows of a name', () => {
  it('says why a name cannot be shown, and lets visible ones through', () => {
    expect(unshowable('\u200B')).toMatch(/invisible/);
    expect(unshowable('\u3164')).toMatch(/invisible/);
    expect(unshowable('\u0301')).toMatch(/letter, digit/);
    expect(unshowable('\u200Dx')).toMatch(/invisible/);
    expect(unshowable('x\u200C')).toMatch(/invisible/);
    // Red-team (today's round): variation selectors, other scripts' format controls, the null notehead.
    for (const name of ["Alice's iPhone\uFE0F", 'x\u180Bx', 'a\u{13430}b', '\u{1D159}', 'a\u{1BCA0}b', 'a\u{E0100}b', 'x\uFE0F\u200Dy']) expect({ name, why: unshowable(name) }).toEqual({ name, why: expect.stringMatching(/invisible/) });
    // Red-team (hostile input round 3): joiners between Latin letters, unassigned and private-use
    // characters (U+F8FF is Apple's logo on its phones), a stack of combining marks.
    for (const name of ['Pay\u200Dpal', 'Pay\u200Cpal', "Alice's i\u200DPhone", '\u2764\uFE0F\u200DA', 'Bank\u0378', 'Bank\uFFFF', '\uF8FF iPhone', 'B' + '\u{1E000}'.repeat(8), '\u{1F3F4}\u{E0067}']) {
      expect({ name, why: unshowable(name) }).toEqual({ name, why: expect.any(String) });
    }
    for (const name of ['\u{1F3F3}\uFE0F\u200D\u{1F308} flag', '\u2764\uFE0E', '1\uFE0F\u20E3', '\u{1F3F4}\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}', '\u{1F469}\u{1F3FD}\u200D\u{1F4BB}', '\u0915\u094D\u200D\u0937']) {
      expect({ name, why: unshowable(name) }).toEqual({ name, why: null });
    }
    // Red-team (last round): joiners that join nothing in joining scripts, marks stacked across a
    // joiner or on a precomposed letter, spaces that are not spaces. (A joiner between two emoji that
    // form no sequence still passes: telling them apart needs Unicode's list of emoji sequences.)
    for (const name of ['\u0645\u062D\u200D\u0645\u062F', '\u0627\u200C\u0628', '\u0915\u200C\u0937', '\u0915' + '\u0941'.repeat(4) + '\u200D' + '\u0941'.repeat(4), '\u01D7' + '\u0301'.repeat(4), 'Bob\u00A0Smith', 'Bob\u2000Smith']) {
      expect({ name, why: unshowable(name) }).toEqual({ name, why: expect.any(String) });
    }
    // ... and real names keep their usual characters: Persian ezafe before a non-joiner, a Japanese
    // ideographic variation, a Mongolian free variation selector, text in the ideographic space.
    for (const name of ['\u0646\u0627\u0645\u0650\u200C\u0645\u0646', '\u8FBB\u{E0100}', '\u182D\u180B', '\u5C71\u7530\u3000\u592A\u90CE']) {
      expect({ name, why: unshowable(name) }).toEqual({ name, why: null });
    }
    expect(unshowable('Payroll')).toBeNull();
    expect(unshowable('\u{1F4F1}')).toBeNull();
  });

  it('removes invisible characters from what it shows, and a stored name that shows nothing is "A device"', () => {
    expect(displayText('Pay\u200Broll\u2060\u{1D159}\u180B', 80)).toBe('Payroll');
    expect(displayText('\u{1F469}\u200D\u{1F4BB} laptop', 80)).toBe('\u{1F469}\u200D\u{1F4BB} laptop');
    const target = { issuer: 'https://idp.example', deviceId: 'd1', createdAt: 1 };
    expect(buildNoticePayload({ kind: 'device_added', deviceName: '\u200B\u3164' }, target).body).toMatch(/^A device can now approve sign-ins/);
    expect(buildNoticePayload({ kind: 'device_added', deviceName: 'Pixel\u200B' }, target).body).toMatch(/^"Pixel" can now approve/);
    // One character too big for the field is cut to an ellipsis: that names nothing either.
    expect(buildNoticePayload({ kind: 'device_added', deviceName: 'B' + '\u{1E000}'.repeat(63) }, target).body).toMatch(/^A device can now approve/);
  });
});
