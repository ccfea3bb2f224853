import { ApiError, reportChallenge } from '../api.js';
import { credentials, describeError, rememberRevocation } from '../request.js';
import type { Material } from '../secrets.js';
import type { AccountRecord, ReportResult } from '../types.js';
import { announce, button, h, heading, replace } from './dom.js';
import { clockTime } from './format.js';
import { t } from './lang.js';

/**
 * After a Deny (issue 16: Deny is one button, then "Was this you? / Report it"): "Yes, it was me"
 * ends it; "No, report it" reports the denied request (docs/device-api.md section 4a) and tells the
 * owner what follows: until when pushes are paused, that passcodes still work, and that someone
 * has their password. The computer's page is told nothing of it.
 */

/** What the phone owner reads after a report: the end of the pause in the phone's local time. */
export function reportedText(result: Pick<ReportResult, 'pausedUntil'>): string {
  return result.pausedUntil ? t('request.reported.until', { time: clockTime(result.pausedUntil) }) : t('request.reported.noPause');
}

export function wasItYou(account: AccountRecord, material: Material, challengeId: string): HTMLElement {
  const box = h('section', { class: 'was-it-you', 'aria-labelledby': 'was-it-you-h', 'data-testid': 'was-it-you' });
  const title = heading(t('request.wasItYou'), 'h2');
  title.id = 'was-it-you-h';
  const error = h('p', { class: 'error', role: 'alert' });
  const done = (text: string, testid: string) => {
    replace(box, h('p', { class: 'message', role: 'status', 'data-testid': testid }, text));
    announce(text);
  };
  const mine = button(t('request.itWasMe'), () => done(t('request.itWasMe.done'), 'it-was-me'), { 'data-testid': 'it-was-me' });
  const report = button(t('request.reportIt'), () => void send(), { class: 'danger', 'data-testid': 'report-it' });

  async function send(): Promise<void> {
    mine.disabled = report.disabled = true;
    report.textContent = t('request.reporting');
    replace(error);
    try {
      done(reportedText(await reportChallenge(credentials(account, material), challengeId)), 'report-result');
    } catch (err) {
      await rememberRevocation(account, err);
      // Final answers: the question is gone with them (challenge_not_denied: another device denied it,
      // and only that one may report it; red-team: the refusal code was shown and the button offered again).
      if (err instanceof ApiError && ['already_reported', 'challenge_not_found', 'challenge_not_denied', 'device_revoked'].includes(err.code)) {
        done(describeError(err, t), 'report-result');
        return;
      }
      replace(error, describeError(err, t));
      mine.disabled = report.disabled = false;
      report.textContent = t('request.reportIt');
    }
  }

  replace(box, title, h('p', { class: 'hint' }, t('request.wasItYou.hint')), error, h('div', { class: 'answer' }, mine, report));
  // Read out and focused once shown: the question is the next thing to answer.
  setTimeout(() => title.focus(), 0);
  return box;
}
