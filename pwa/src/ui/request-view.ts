import { ApiError, getChallenge, type WebAuthnAssertion } from '../api.js';
import { answer, credentials, describeError, rememberRevocation } from '../request.js';
import { materialFor, type Material } from '../secrets.js';
import { getAccount } from '../store.js';
import { accountKey, type AccountRecord, type AnswerResult, type Decision, type DeviceChallenge } from '../types.js';
import { answerChallengeBytes, assert } from '../webauthn.js';
import type { View } from './context.js';
import { announce, append, button, h, heading, replace } from './dom.js';
import { accountLabel, clockTime, hostOf, mmss, timeAgo } from './format.js';
import { pinForm } from './unlock.js';

/** The request page: what asks to sign in, the number to match, and Approve / Deny / Deny and report. */

const STATUS_TEXT: Record<Exclude<DeviceChallenge['status'], 'pending'>, string> = {
  approved: 'This sign-in request was already approved.',
  denied: 'This sign-in request was already denied.',
  expired: 'This sign-in request has expired. If you are signing in, start again on the sign-in page.',
};

function resultText(result: AnswerResult): string {
  if (result.status === 'approved') return 'Approved. Go back to the sign-in page: it continues by itself.';
  if (result.reason === 'wrong_number') return 'Denied: the number you chose is not the one on the sign-in screen. If you did not try to sign in, someone else knows your password: change it.';
  if (result.reason === 'reported') return 'Denied and reported. Your administrator can see that this request was not yours, and new sign-in requests to this phone may be paused for a while (your passcodes still work). Whoever tried knows your password: change it now.';
  return 'Denied. Nobody is signed in with this request.';
}

export const requestView: View = (root, ctx, params) => {
  const cid = params.get('request') ?? '';
  const issuer = params.get('issuer') ?? '';
  const deviceId = params.get('device') ?? '';
  let stopped = false;
  let timer: ReturnType<typeof setInterval> | undefined;

  const h1 = heading('Sign-in request');
  const body = h('div', { class: 'request-body' });
  const back = h('p', { class: 'actions' }, button('Back to accounts', () => ctx.navigate('./'), { 'data-testid': 'back' }));
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
    show(h('p', { role: 'status' }, 'Loading the request…'));
    let challenge: DeviceChallenge;
    try {
      challenge = await getChallenge(credentials(account, material), cid);
    } catch (err) {
      await rememberRevocation(account, err);
      const retry = err instanceof ApiError && err.code === 'network_error' ? button('Try again', () => void load(account, material)) : null;
      show(message(err instanceof ApiError && err.code === 'challenge_not_found' ? 'This sign-in request no longer exists.' : describeError(err)), retry);
      return;
    }
    render(account, material, challenge);
  }

  function render(account: AccountRecord, material: Material, challenge: DeviceChallenge): void {
    const details = h(
      'dl',
      { class: 'details' },
      h('dt', {}, 'App'), h('dd', { 'data-testid': 'request-app' }, challenge.app),
      h('dt', {}, 'Account'), h('dd', {}, `${account.account.username} at ${hostOf(account.issuer)}`),
      h('dt', {}, 'Requested'), h('dd', {}, `${timeAgo(challenge.createdAt)} (${clockTime(challenge.createdAt)})`),
      // No row at all when the IdP could not place the address: "Unknown" tells the user nothing.
      ...(challenge.location ? [h('dt', {}, 'Location'), h('dd', { 'data-testid': 'request-location' }, challenge.location)] : []),
      h('dt', {}, 'IP address'), h('dd', {}, challenge.ip),
      h('dt', {}, 'Browser'), h('dd', {}, challenge.browser),
    );
    if (challenge.status !== 'pending' || challenge.expiresAt <= Date.now()) {
      show(details, message(challenge.status === 'pending' ? STATUS_TEXT.expired : STATUS_TEXT[challenge.status]));
      void closeNotification();
      return;
    }

    const expires = h('p', { class: 'expires' });
    const error = h('p', { class: 'error', role: 'alert' });
    const progress = h('p', { class: 'progress', role: 'status', 'data-testid': 'request-progress' });
    let chosen: number | undefined;
    const numbers = challenge.numberMatching && challenge.numberChoices ? challenge.numberChoices : null;
    const approve = button('Approve', () => void send('approve'), { class: 'primary', 'data-testid': 'approve' });
    const deny = button('Deny', () => void send('deny'), { class: 'danger', 'data-testid': 'deny' });
    const report = button('Deny and report', () => void send('report'), { 'data-testid': 'report' });
    const all = [approve, deny, report];

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
        h('label', { for: 'typed-number' }, 'Type the number shown on the sign-in screen'),
        h('p', { class: 'hint', id: 'typed-number-hint' }, 'Two digits. Not signing in? Tap Deny.'),
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
        h('legend', {}, 'Choose the number shown on the sign-in screen'),
        h('p', { class: 'hint', id: 'number-hint' }, 'Tap it to approve. Not signing in? Tap Deny.'),
        h('div', { class: 'number-row' }, ...choices),
      );
    }

    async function send(decision: Decision): Promise<void> {
      if (decision === 'approve' && numbers && chosen === undefined) {
        replace(error, 'Choose the number first.');
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
          onWait: (seconds) => replace(progress, `Each one-time passcode works once: sending with the next one in ${seconds} s…`),
        });
        await closeNotification();
        show(details, message(resultText(result), 'request-result'));
        announce(resultText(result));
      } catch (err) {
        if (err instanceof ApiError && ['challenge_expired', 'challenge_resolved', 'challenge_not_found', 'device_revoked'].includes(err.code)) {
          show(details, message(describeError(err), 'request-result'));
          return;
        }
        replace(progress);
        const cancelled = err instanceof DOMException && err.name === 'NotAllowedError';
        replace(error, cancelled ? 'Verification was cancelled or failed; nothing was sent.' : describeError(err));
        for (const b of all) b.disabled = false;
        if (!typed) chosen = undefined;
        else if (chosen === undefined) approve.disabled = true;
      }
    }

    const lead = h('p', { class: 'lead' }, 'Someone is signing in to ', h('strong', {}, challenge.app), ` as ${accountLabel(account)}. Was it you?`);
    // A request from an app without a login page (OpenID CIBA) carries the text that app shows: the
    // user compares the two, as the number on a login page is compared. Text only, never markup.
    const binding = challenge.bindingMessage
      ? h('p', { class: 'binding' }, 'The app that asks shows: ', h('strong', { 'data-testid': 'request-binding-message' }, challenge.bindingMessage), '. Approve only if it matches.')
      : null;
    show(lead, binding, details, expires, numberGroup, error, progress, h('div', { class: 'answer' }, numbers && !typed ? null : approve, deny, report));
    const tick = () => {
      const left = (challenge.expiresAt - Date.now()) / 1000;
      if (left <= 0) {
        show(details, message(STATUS_TEXT.expired));
        return;
      }
      expires.textContent = `Expires in ${mmss(left)}`;
    };
    tick();
    timer = setInterval(tick, 1000);
    if (params.get('decision') === 'deny') deny.focus();
  }

  void (async () => {
    const account = await getAccount(accountKey(issuer, deviceId));
    if (!account) {
      show(message('This request is for an account that is not on this device.'));
      return;
    }
    if (account.revoked) {
      show(message(describeError(new ApiError('device_revoked', 401, ''))));
      return;
    }
    const material = materialFor(account);
    if (material) return load(account, material);
    const intro = h('p', {}, 'Enter your PIN to see this request.');
    show(intro, pinForm(account, (m) => void load(account, m)));
    body.querySelector('input')?.focus();
  })();

  const unlisten = ctx.onWorkerMessage((msg) => {
    if (msg.type === 'answered' && msg.cid === cid) append(body, message('This request was answered from the notification.'));
  });

  return () => {
    stopped = true;
    clearInterval(timer);
    unlisten();
  };
};
