import { ApiError, getChallenge, type WebAuthnAssertion } from '../api.js';
import { answer, credentials, describeError, rememberRevocation } from '../request.js';
import { materialFor, type Material } from '../secrets.js';
import { getAccount } from '../store.js';
import { accountKey, type AccountRecord, type AnswerResult, type Decision, type DeviceChallenge } from '../types.js';
import { answerChallengeBytes, assert } from '../webauthn.js';
import type { View } from './context.js';
import { announce, append, button, h, heading, replace } from './dom.js';
import { accountLabel, browserText, clockTime, hostOf, mmss, timeAgo } from './format.js';
import { t, tNodes } from './lang.js';
import { wasItYou } from './report-step.js';
import { pinForm } from './unlock.js';

/**
 * The request page: what asks to sign in, the number to match, Approve and Deny; after a Deny,
 * "Was this you?" (report-step.ts). Every word comes from the catalogue (i18n-pages.ts).
 */

const STATUS_TEXT = {
  approved: 'request.status.approved',
  denied: 'request.status.denied',
  expired: 'request.status.expired',
} as const satisfies Record<Exclude<DeviceChallenge['status'], 'pending'>, string>;

function resultText(result: AnswerResult): string {
  if (result.status === 'approved') return t('request.result.approved');
  if (result.reason === 'wrong_number') return t('request.result.wrongNumber');
  // Only another client's one-step `report` answers this; this app denies, then asks.
  if (result.reason === 'reported') return t('request.result.reported');
  return t('request.result.denied');
}

export const requestView: View = (root, ctx, params) => {
  const cid = params.get('request') ?? '';
  const issuer = params.get('issuer') ?? '';
  const deviceId = params.get('device') ?? '';
  let stopped = false;
  let timer: ReturnType<typeof setInterval> | undefined;

  const h1 = heading(t('request.title'));
  const body = h('div', { class: 'request-body' });
  const back = h('p', { class: 'actions' }, button(t('request.back'), () => ctx.navigate('./'), { 'data-testid': 'back' }));
  replace(root, h1, body, back);

  function show(...children: (Node | string | null)[]): void {
    if (stopped) return;
    clearInterval(timer);
    replace(body, ...children);
  }

  function message(text: string, testid = 'request-message'): HTMLElement {
    return h('p', { class: 'message', role: 'status', 'data-testid': testid }, text);
  }

  async function closeNotification(): Promise<void> {
    try {
      const reg = await navigator.serviceWorker?.getRegistration();
      for (const n of (await reg?.getNotifications({ tag: cid })) ?? []) n.close();
    } catch {
      // Nothing to close.
    }
  }

  async function load(account: AccountRecord, material: Material): Promise<void> {
    show(h('p', { role: 'status' }, t('request.loading')));
    let challenge: DeviceChallenge;
    try {
      challenge = await getChallenge(credentials(account, material), cid);
    } catch (err) {
      await rememberRevocation(account, err);
      const retry = err instanceof ApiError && err.code === 'network_error' ? button(t('request.retry'), () => void load(account, material)) : null;
      show(message(describeError(err, t)), retry);
      return;
    }
    render(account, material, challenge);
  }

  function render(account: AccountRecord, material: Material, challenge: DeviceChallenge): void {
    const details = h(
      'dl',
      { class: 'details' },
      h('dt', {}, t('request.detail.app')), h('dd', { 'data-testid': 'request-app' }, challenge.app),
      h('dt', {}, t('request.detail.account')), h('dd', {}, t('request.detail.accountValue', { user: account.account.username, host: hostOf(account.issuer) })),
      h('dt', {}, t('request.detail.requested')), h('dd', {}, t('request.detail.requestedValue', { ago: timeAgo(challenge.createdAt), time: clockTime(challenge.createdAt) })),
      // No row at all when the IdP could not place the address: "Unknown" tells the user nothing.
      ...(challenge.location ? [h('dt', {}, t('request.detail.location')), h('dd', { 'data-testid': 'request-location' }, challenge.location)] : []),
      h('dt', {}, t('request.detail.ip')), h('dd', {}, challenge.ip),
      h('dt', {}, t('request.detail.browser')), h('dd', {}, browserText(challenge.browser, t)),
    );
    if (challenge.status !== 'pending' || challenge.expiresAt <= Date.now()) {
      // Denied earlier (on the notification, or before a reload): the question still stands while the
      // IdP keeps the request; it refuses a second report (already_reported), which the page then says.
      const ask = challenge.status === 'denied' ? wasItYou(account, material, challenge.id) : null;
      show(details, message(t(challenge.status === 'pending' ? STATUS_TEXT.expired : STATUS_TEXT[challenge.status])), ask);
      void closeNotification();
      return;
    }

    const expires = h('p', { class: 'expires' });
    const error = h('p', { class: 'error', role: 'alert' });
    const progress = h('p', { class: 'progress', role: 'status', 'data-testid': 'request-progress' });
    let chosen: number | undefined;
    const numbers = challenge.numberMatching && challenge.numberChoices ? challenge.numberChoices : null;
    const approve = button(t('request.approve'), () => void send('approve'), { class: 'primary', 'data-testid': 'approve' });
    // One Deny (as Microsoft Authenticator and Duo): whether to report it is asked afterwards.
    const deny = button(t('request.deny'), () => void send('deny'), { class: 'danger', 'data-testid': 'deny' });
    const all = [approve, deny];

    let numberGroup: HTMLElement | null = null;
    // Verified Push (the app's choice): no choices shown, the user types the number from the sign-in screen.
    const typed = challenge.numberMatching && challenge.verifiedPush === true;
    if (typed) {
      const input = h('input', {
        id: 'typed-number', type: 'text', inputmode: 'numeric', autocomplete: 'off', maxlength: 2, pattern: '[0-9]{2}',
        required: true, 'data-testid': 'typed-number', 'aria-describedby': 'typed-number-hint',
      });
      input.addEventListener('input', () => {
        const n = /^\d{2}$/.test(input.value.trim()) ? Number(input.value.trim()) : undefined;
        chosen = n;
        approve.disabled = n === undefined;
      });
      input.addEventListener('keydown', (ev) => {
        if (ev.key === 'Enter' && chosen !== undefined) void send('approve');
      });
      approve.disabled = true;
      all.push(input as unknown as HTMLButtonElement);
      numberGroup = h(
        'div',
        { class: 'numbers typed' },
        h('label', { for: 'typed-number' }, t('request.typed.label')),
        h('p', { class: 'hint', id: 'typed-number-hint' }, t('request.typed.hint')),
        input,
      );
    } else if (numbers) {
      // One tap: the number is the answer (a wrong one denies), as Okta Verify does it.
      const choices = numbers.map((n) =>
        button(String(n), () => {
          chosen = n;
          void send('approve');
        }, { class: 'number', 'data-testid': `number-${n}`, 'aria-describedby': 'number-hint' }),
      );
      all.push(...choices);
      numberGroup = h(
        'fieldset',
        { class: 'numbers' },
        h('legend', {}, t('request.numbers.legend')),
        h('p', { class: 'hint', id: 'number-hint' }, t('request.numbers.hint')),
        h('div', { class: 'number-row' }, ...choices),
      );
    }

    async function send(decision: Decision): Promise<void> {
      if (decision === 'approve' && numbers && chosen === undefined) {
        replace(error, t('request.chooseFirst'));
        return;
      }
      for (const b of all) b.disabled = true;
      replace(error);
      try {
        let webauthn: WebAuthnAssertion | undefined;
        // Only an approval needs the user verified (the server asks no more): a failing fingerprint must
        // never stop someone from saying no.
        if (decision === 'approve' && account.policy.unlock === 'webauthn' && account.webauthn) {
          webauthn = await assert(account.webauthn.credentialId, await answerChallengeBytes(challenge.id, challenge.nonce));
        }
        const result = await answer({
          account,
          material,
          challenge,
          decision,
          ...(chosen !== undefined ? { number: chosen } : {}),
          ...(webauthn ? { webauthn } : {}),
          onWait: (seconds) => replace(progress, t('request.waitStep', { seconds: String(seconds) })),
        });
        await closeNotification();
        // A plain denial asks whether it was the user: if not, they report it (report-step.ts).
        const ask = result.status === 'denied' && result.reason === 'denied';
        show(details, message(resultText(result), 'request-result'), ask ? wasItYou(account, material, challenge.id) : null);
        announce(resultText(result));
      } catch (err) {
        if (err instanceof ApiError && ['challenge_expired', 'challenge_resolved', 'challenge_not_found', 'device_revoked'].includes(err.code)) {
          show(details, message(describeError(err, t), 'request-result'));
          return;
        }
        replace(progress);
        const cancelled = err instanceof DOMException && err.name === 'NotAllowedError';
        replace(error, cancelled ? t('request.verifyCancelled') : describeError(err, t));
        for (const b of all) b.disabled = false;
        if (!typed) chosen = undefined;
        else if (chosen === undefined) approve.disabled = true;
      }
    }

    const lead = h('p', { class: 'lead' }, ...tNodes('request.lead', { app: h('strong', {}, challenge.app), account: accountLabel(account) }));
    // A request from an app without a login page (OpenID CIBA) carries the text that app shows: the
    // user compares the two, as the number on a login page is compared. Text only, never markup.
    const binding = challenge.bindingMessage
      ? h('p', { class: 'binding' }, ...tNodes('request.binding', { message: h('strong', { 'data-testid': 'request-binding-message' }, challenge.bindingMessage) }))
      : null;
    show(lead, binding, details, expires, numberGroup, error, progress, h('div', { class: 'answer' }, numbers && !typed ? null : approve, deny));
    const tick = () => {
      const left = (challenge.expiresAt - Date.now()) / 1000;
      if (left <= 0) {
        show(details, message(t(STATUS_TEXT.expired)));
        return;
      }
      expires.textContent = t('request.expiresIn', { time: mmss(left) });
    };
    tick();
    timer = setInterval(tick, 1000);
    if (params.get('decision') === 'deny') deny.focus();
  }

  void (async () => {
    const account = await getAccount(accountKey(issuer, deviceId));
    if (!account) {
      show(message(t('request.notOnDevice')));
      return;
    }
    if (account.revoked) {
      show(message(describeError(new ApiError('device_revoked', 401, ''), t)));
      return;
    }
    const material = materialFor(account);
    if (material) return load(account, material);
    const intro = h('p', {}, t('request.enterPin'));
    show(intro, pinForm(account, (m) => void load(account, m)));
    body.querySelector('input')?.focus();
  })();

  const unlisten = ctx.onWorkerMessage((msg) => {
    if (msg.type === 'answered' && msg.cid === cid) append(body, message(t('request.answeredElsewhere')));
  });

  return () => {
    stopped = true;
    clearInterval(timer);
    unlisten();
  };
};
