import { markVerified, PinWaitError, unlockWithPin, WrongPinError, type Material } from '../secrets.js';
import type { AccountRecord } from '../types.js';
import { assert } from '../webauthn.js';
import { accountLabel, clockTime } from './format.js';
import { button, field, h, replace } from './dom.js';
import { t } from './lang.js';

/** Unlocking a protected account: the PIN form, or a WebAuthn user verification. */

function waitText(retryAfter: number): string {
  return t('unlock.tooMany', { time: clockTime(retryAfter) });
}

export function pinForm(account: AccountRecord, onUnlocked: (material: Material) => void, submitLabel = t('unlock.submit')): HTMLFormElement {
  const input = h('input', {
    type: 'password',
    inputmode: 'numeric',
    autocomplete: 'off',
    required: true,
    'data-testid': 'pin-input',
  });
  const error = h('p', { class: 'error', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'pin-submit' }, submitLabel);
  const form = h('form', { class: 'unlock', novalidate: true }, field(t('unlock.pinFor', { account: accountLabel(account) }), input), error, submit);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!input.value) {
      replace(error, t('unlock.enterPin'));
      input.focus();
      return;
    }
    submit.disabled = true;
    replace(error);
    submit.textContent = t('unlock.checking');
    try {
      onUnlocked(await unlockWithPin(account, input.value));
    } catch (err) {
      input.value = '';
      if (err instanceof WrongPinError) replace(error, err.retryAfter ? t('unlock.wrongPinWait', { time: clockTime(err.retryAfter) }) : t('unlock.wrongPin'));
      else if (err instanceof PinWaitError) replace(error, waitText(err.retryAfter));
      else replace(error, err instanceof Error ? err.message : String(err));
      input.focus();
    } finally {
      submit.disabled = false;
      submit.textContent = submitLabel;
    }
  });
  return form;
}

/** For 'webauthn' accounts: shows passcodes after one user verification in this page. */
export function verifyButton(account: AccountRecord, onVerified: () => void): HTMLElement {
  const error = h('p', { class: 'error', role: 'alert' });
  const b = button(
    t('unlock.verify'),
    async () => {
      if (!account.webauthn) {
        replace(error, t('unlock.noCredential'));
        return;
      }
      b.disabled = true;
      try {
        await assert(account.webauthn.credentialId);
        markVerified(account.id);
        onVerified();
      } catch (err) {
        replace(error, err instanceof DOMException && err.name === 'NotAllowedError' ? t('unlock.cancelled') : String(err));
      } finally {
        b.disabled = false;
      }
    },
    { class: 'primary', 'data-testid': 'verify' },
  );
  return h('div', { class: 'unlock' }, b, error);
}
