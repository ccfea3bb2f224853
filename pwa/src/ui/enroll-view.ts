import { ApiError } from '../api.js';
import { defaultDeviceName, enrollAccount, normalizeCode, normalizeIssuer, parseEnrollLink, type EnrollLink, type EnrollOutcome } from '../enroll.js';
import { askPermission } from '../push-setup.js';
import { MIN_PIN_LENGTH } from '../secrets.js';
import type { View } from './context.js';
import { announce, append, button, field, h, heading, replace } from './dom.js';
import { accountLabel, hostOf } from './format.js';
import { scanCamera, scanImageFile } from './scan.js';
import { installOffer } from './install.js';

/** Adding an account: from the enrollment link, a scanned QR code or a typed code. */

function enrollError(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.code === 'invalid_enrollment_code') return 'This enrollment code is unknown, already used or expired. Get a new one from your account page.';
    if (err.code === 'network_error') return 'Cannot reach the sign-in server. Check the address and your connection.';
    return `The sign-in server refused the enrollment (${err.code}${err.message ? `: ${err.message}` : ''}).`;
  }
  if (err instanceof DOMException && err.name === 'NotAllowedError') return 'The screen-lock check was cancelled. Try again.';
  return err instanceof Error ? err.message : String(err);
}

export const enrollView: View = (root, ctx, params) => {
  let stopped = false;
  let scanning: AbortController | null = null;
  const fromLink = params.has('enroll') ? parseEnrollLink(location.href, null) : null;

  const h1 = heading('Add account');
  const body = h('div');
  replace(root, h1, body);

  const status = h('p', { class: 'progress', role: 'status', 'data-testid': 'enroll-status' });
  const error = h('p', { class: 'error', role: 'alert', 'data-testid': 'enroll-error' });
  const nameInput = h('input', { type: 'text', name: 'device-name', maxlength: 64, required: true, autocomplete: 'off', 'data-testid': 'device-name' });
  nameInput.value = defaultDeviceName();
  const issuerInput = h('input', { type: 'url', name: 'issuer', required: true, inputmode: 'url', autocomplete: 'url', spellcheck: 'false', 'data-testid': 'issuer' });
  issuerInput.value = normalizeIssuer(params.get('issuer') ?? '') ?? location.origin;
  const codeInput = h('input', { type: 'text', name: 'code', required: true, autocomplete: 'one-time-code', autocapitalize: 'characters', spellcheck: 'false', 'data-testid': 'code-input' });
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'enroll-submit' }, 'Add account');

  function linkFromForm(): EnrollLink | null {
    if (fromLink) return fromLink;
    const issuer = normalizeIssuer(issuerInput.value);
    if (!issuer) {
      replace(error, 'Enter the sign-in server’s address, starting with https://');
      issuerInput.focus();
      return null;
    }
    const pasted = parseEnrollLink(codeInput.value, issuer);
    if (!pasted) {
      replace(error, 'Enter the enrollment code (letters, digits and dashes).');
      codeInput.focus();
      return null;
    }
    return pasted;
  }

  function choosePin(): Promise<string> {
    return new Promise((resolve) => {
      const pin = h('input', { type: 'password', inputmode: 'numeric', autocomplete: 'new-password', required: true, minlength: MIN_PIN_LENGTH, 'data-testid': 'new-pin' });
      const again = h('input', { type: 'password', inputmode: 'numeric', autocomplete: 'new-password', required: true, minlength: MIN_PIN_LENGTH, 'data-testid': 'new-pin-again' });
      const pinError = h('p', { class: 'error', role: 'alert' });
      const form = h(
        'form',
        { novalidate: true },
        h('h2', {}, 'Choose a PIN'),
        h('p', {}, 'Your sign-in server asks for a PIN on this account. You will enter it to see passcodes and to answer requests. It never leaves this phone, and it cannot be recovered: forgetting it means enrolling again.'),
        h('p', { 'data-testid': 'pin-rule' }, `The rule: at least ${MIN_PIN_LENGTH} characters (digits, letters or both), typed the same twice.`),
        field('New PIN', pin, `At least ${MIN_PIN_LENGTH} characters.`),
        field('Repeat the PIN', again),
        pinError,
        h('button', { type: 'submit', class: 'primary', 'data-testid': 'new-pin-submit' }, 'Set PIN'),
      );
      form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        if (pin.value.length < MIN_PIN_LENGTH) {
          replace(pinError, `The PIN needs at least ${MIN_PIN_LENGTH} characters.`);
          pin.focus();
        } else if (pin.value !== again.value) {
          replace(pinError, 'The two PINs differ.');
          again.value = '';
          again.focus();
        } else {
          replace(body, status);
          resolve(pin.value);
        }
      });
      replace(body, form);
      pin.focus();
    });
  }

  function done(outcome: EnrollOutcome): void {
    const { account, push } = outcome;
    h1.textContent = 'Account added';
    replace(
      body,
      h('p', { 'data-testid': 'enroll-done' }, `${accountLabel(account)} (${account.account.username}) at ${hostOf(account.issuer)} is on this phone.`),
      push.ok
        ? h('p', { 'data-testid': 'enroll-push' }, 'Notifications are on: sign-in requests will appear on this phone.')
        : h('p', { 'data-testid': 'enroll-push' }, `Notifications are off: ${push.reason} The app checks for sign-in requests while it is open (poll mode), and its passcodes always work.`),
      h('p', { class: 'actions' }, button('Done', () => ctx.navigate('./', true), { class: 'primary', 'data-testid': 'enroll-finish' })),
    );
    h1.focus();
    announce('Account added.');
  }

  async function run(link: EnrollLink, permission: Promise<NotificationPermission>): Promise<void> {
    replace(error);
    submit.disabled = true;
    // The code works once: do not leave it in the address bar or the history.
    if (fromLink) history.replaceState(null, '', `./?${new URLSearchParams({ add: '1', issuer: link.issuer })}`);
    try {
      const outcome = await enrollAccount({
        link,
        deviceName: nameInput.value,
        permission,
        choosePin,
        progress: (text) => (status.textContent = text),
      });
      if (!stopped) done(outcome);
    } catch (err) {
      if (stopped) return;
      status.textContent = '';
      replace(body, form);
      replace(error, enrollError(err));
      submit.disabled = false;
    }
  }

  const video = h('video', { class: 'scanner', hidden: true, 'aria-label': 'Camera view for the QR code' });
  const photo = h('input', { type: 'file', accept: 'image/*', hidden: true, 'aria-hidden': 'true', tabindex: -1, 'data-testid': 'qr-file' });
  const stopScan = button('Stop scanning', () => scanning?.abort(), { hidden: true });

  function useScanned(text: string | null): void {
    const link = text ? parseEnrollLink(text, normalizeIssuer(issuerInput.value)) : null;
    if (!link) {
      replace(error, text ? 'This QR code is not an enrollment code.' : 'No QR code was found in the picture.');
      return;
    }
    issuerInput.value = link.issuer;
    codeInput.value = link.code;
    replace(error);
    status.textContent = `Code read for ${hostOf(link.issuer)}. Check the device name, then choose Add account.`;
    submit.focus();
  }

  const scanButton = button('Scan QR code', async () => {
    if (!navigator.mediaDevices?.getUserMedia) {
      replace(error, 'This browser cannot use the camera here. Use a photo of the code, or type it.');
      return;
    }
    scanning = new AbortController();
    video.hidden = false;
    stopScan.hidden = false;
    try {
      useScanned(await scanCamera(video, scanning.signal));
    } catch (err) {
      if (!(err instanceof DOMException && err.name === 'AbortError')) replace(error, `The camera is not available: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      video.hidden = true;
      stopScan.hidden = true;
      scanning = null;
    }
  });
  photo.addEventListener('change', async () => {
    const file = photo.files?.[0];
    photo.value = '';
    if (file) useScanned(await scanImageFile(file).catch(() => null));
  });

  const form = h('form', { novalidate: true, class: 'enroll' });
  form.append(installOffer());
  if (fromLink) {
    const foreign = new URL(fromLink.issuer).origin !== location.origin;
    append(
      form,
      h('p', {}, 'Add the account from this sign-in server to this phone:'),
      h('p', { class: 'issuer', 'data-testid': 'enroll-issuer' }, hostOf(fromLink.issuer)),
      foreign ? h('p', { class: 'alert' }, `This code is for another site than this app (${location.host}). Continue only if you started it from ${hostOf(fromLink.issuer)}.`) : null,
      field('Name of this device', nameInput, 'Shown in your account’s device list.'),
    );
  } else {
    form.append(
      h('p', {}, 'Scan the QR code that your sign-in server shows, or type the code.'),
      h('div', { class: 'actions' }, scanButton, button('Use a photo of the code', () => photo.click()), photo),
      video,
      stopScan,
      field('Sign-in server', issuerInput),
      field('Enrollment code', codeInput, 'For example ABCD-EFGH-IJKL-MNOP.'),
      field('Name of this device', nameInput, 'Shown in your account’s device list.'),
    );
  }
  form.append(error, status, h('div', { class: 'actions' }, submit, button('Cancel', () => ctx.navigate('./'), { 'data-testid': 'enroll-cancel' })));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const link = linkFromForm();
    if (!link) return;
    if (!nameInput.value.trim()) {
      replace(error, 'Give this device a name.');
      nameInput.focus();
      return;
    }
    // Asked here, synchronously in the tap: iOS shows the prompt only for a user gesture.
    void run(link, askPermission());
  });
  replace(body, form);
  if (!fromLink && params.get('code')) codeInput.value = normalizeCode(params.get('code') ?? '') ?? '';

  return () => {
    stopped = true;
    scanning?.abort();
  };
};
