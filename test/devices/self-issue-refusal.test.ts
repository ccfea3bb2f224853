import { describe, expect, it } from '@jest/globals';
import { selfIssueRefusal } from '../../src/devices/service.js';

/** Pure: when /account may not issue an enrollment code to the session asking (decided under the account's row lock). */
describe('selfIssueRefusal', () => {
  const ended = new Date(1_000_000);
  it.each([
    // [session, account's end of sessions, devices now, answer]
    [{ passwordOnly: true, startedAt: 2_000_000 }, null, 0, null],
    [{ passwordOnly: true, startedAt: 2_000_000 }, null, 1, 'has_devices'],
    [{ passwordOnly: false, startedAt: 2_000_000 }, null, 3, null],
    [{ passwordOnly: false, startedAt: 999_999 }, ended, 3, 'session_ended'],
    [{ passwordOnly: true, startedAt: 999_999 }, ended, 0, 'session_ended'],
    [{ passwordOnly: true, startedAt: 1_000_000 }, ended, 0, null],
    [{ passwordOnly: true, startedAt: 1_000_001 }, ended, 1, 'has_devices'],
  ] as const)('%j, ended %p, %p devices -> %p', (session, sessionsEndedAt, devices, answer) => {
    expect(selfIssueRefusal(session, { sessionsEndedAt }, devices)).toBe(answer);
  });
});
