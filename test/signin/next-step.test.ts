import { describe, expect, it } from '@jest/globals';
import { nextAfterPassword, type NextStep } from '../../src/signin/next-step.js';

/**
 * What follows a right password, as a table. Threat guarded: an account that has had an
 * authenticator falling back to the password alone once it is lost or revoked (audit item 3).
 */
describe('nextAfterPassword', () => {
  const twoStep = { form: 'two-step', noDevice: 'password-only' } as const;
  const refuse = { form: 'two-step', noDevice: 'refuse' } as const;
  const single = { form: 'single-form', noDevice: 'password-only' } as const;
  const auto = { form: 'two-step', noDevice: 'password-only', autoPush: true } as const;
  const autoRefuse = { form: 'two-step', noDevice: 'refuse', autoPush: true } as const;
  const cases: Array<[string, Parameters<typeof nextAfterPassword>[0], NextStep['kind']]> = [
    ['never enrolled, password-only app', { policy: twoStep, activeDevices: 0, everEnrolled: false, passcode: undefined }, 'finish-password-only'],
    ['never enrolled, refusing app', { policy: refuse, activeDevices: 0, everEnrolled: false, passcode: undefined }, 'refuse-no-device'],
    ['every device revoked, password-only app', { policy: twoStep, activeDevices: 0, everEnrolled: true, passcode: undefined }, 'recover'],
    ['every device revoked, refusing app', { policy: refuse, activeDevices: 0, everEnrolled: true, passcode: undefined }, 'recover'],
    ['every device revoked, a passcode typed on the single form', { policy: single, activeDevices: 0, everEnrolled: true, passcode: '123456' }, 'recover'],
    ['a device, two-step', { policy: twoStep, activeDevices: 1, everEnrolled: true, passcode: undefined }, 'choose-second-factor'],
    ['a device, two-step with autoPush: the push goes at once', { policy: auto, activeDevices: 1, everEnrolled: true, passcode: undefined }, 'send-push'],
    ['a device, two-step with autoPush false', { policy: { ...twoStep, autoPush: false }, activeDevices: 1, everEnrolled: true, passcode: undefined }, 'choose-second-factor'],
    // autoPush sends nothing where there is nothing to push to: the no-device rules come first.
    ['never enrolled, autoPush, password-only app', { policy: auto, activeDevices: 0, everEnrolled: false, passcode: undefined }, 'finish-password-only'],
    ['never enrolled, autoPush, refusing app', { policy: autoRefuse, activeDevices: 0, everEnrolled: false, passcode: undefined }, 'refuse-no-device'],
    ['every device revoked, autoPush', { policy: auto, activeDevices: 0, everEnrolled: true, passcode: undefined }, 'recover'],
    ['a device, single form, empty passcode', { policy: single, activeDevices: 1, everEnrolled: true, passcode: '' }, 'send-push'],
    ['a device, single form, 6 digits', { policy: single, activeDevices: 2, everEnrolled: true, passcode: '123456' }, 'check-passcode'],
    ['a device, single form, junk', { policy: single, activeDevices: 1, everEnrolled: true, passcode: '12ab' }, 'bad-passcode-format'],
    // One character is one code point, at every door (red-team: an emoji was two, so a format error here and a push at RADIUS).
    ['a device, single form, one emoji', { policy: single, activeDevices: 1, everEnrolled: true, passcode: '\u{1F600}' }, 'send-push'],
    ['a device, single form, two emoji', { policy: single, activeDevices: 1, everEnrolled: true, passcode: '\u{1F600}\u{1F600}' }, 'bad-passcode-format'],
  ];
  it.each(cases)('%s', (_name, input, kind) => {
    expect(nextAfterPassword(input).kind).toBe(kind);
  });
});
