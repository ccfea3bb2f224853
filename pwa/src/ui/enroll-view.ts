import { ApiError } from '../api.js';
import { defaultDeviceName, enrollAccount, normalizeCode, normalizeIssuer, parseEnrollLink, type EnrollLink, type EnrollOutcome } from '../enroll.js';
import { askPermission } from '../push-setup.js';
import { listAccounts } from '../store.js';
import { MIN_PIN_LENGTH } from '../secrets.js';
import type { View } from './context.js';
import { announce, append, button, field, h, heading, replace } from './dom.js';
import { accountLabel, hostOf } from './format.js';
import { scanCamera, scanImageFile } from './scan.js';
import { installOffer } from './install.js';
import { t } from './lang.js';

/** Adding an account: from the enrollment link, a scanned QR code or a typed code. */

function enrollError(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.code === 'invalid_enrollment_code') return t('enroll.error.code');
    if (err.code === 'network_error') return t('enroll.error.network');
    return t('enroll.error.refused', { detail: `${err.code}${err.message ? `: ${err.message}` : ''}` });
  }
  if (err instanceof DOMException && err.name === 'NotAllowedError') return t('enroll.error.screenLock');
  return err instanceof Error ? err.message : String(err);
}

export const enrollView: View = (root, ctx, params) => {
  let stopped = false;
  let scanning: AbortController | null = null;
  const fromLink = params.has('enroll') ? parseEnrollLink(location.href, null) : null;

  const h1 = heading(t('enroll.title'));
  const body = h('div');
  replace(root, h1, body);

  const status = h('p', { class: 'progress', role: 'status', 'data-testid': 'enroll-status' });
  const error = h('p', { class: 'error', role: 'alert', 'data-testid': 'enroll-error' });
  const nameInput = h('input', { type: 'text', name: 'device-name', maxlength: 64, required: true, autocomplete: 'off', 'data-testid': 'device-name' });
  nameInput.value = defaultDeviceName();
  const issuerInput = h('input', { type: 'url', name: 'issuer', required: true, inputmode: 'url', autocomplete: 'url', spellcheck: 'false', 'data-testid': 'issuer' });
  // The server this app came from, unless the address names one this phone already has an account
  // with ("Enroll again"). Any other server named in the address is not filled in: red-team, a link
  // to the real app with `?add=1&issuer=https://attacker` sent the code the user typed there, and
  // the attacker enrolled his own device with it.
  issuerInput.value = location.origin;
  const named = normalizeIssuer(params.get('issuer') ?? '');
  if (named && named !== location.origin) {
    void listAccounts().then((accounts) => {
      if (!stopped && issuerInput.value === location.origin && accounts.some((a) => a.issuer === named)) issuerInput.value = named;
    });
  } else if (named) {
    issuerInput.value = named;
  }
  /** The other site the user was warned about and submitted again for (typed or scanned codes). */
  let confirmedForeign: string | null = null;
  const codeInput = h('input', { type: 'text', name: 'code', required: true, autocomplete: 'one-time-code', autocapitalize: 'characters', spellcheck: 'false', 'data-testid': 'code-input' });
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'enroll-submit' }, t('enroll.submit'));

  function linkFromForm(): EnrollLink | null {
    if (fromLink) return fromLink;
    const issuer = normalizeIssuer(issuerInput.value);
    if (!issuer) {
      replace(error, t('enroll.needIssuer'));
      issuerInput.focus();
      return null;
    }
    const pasted = parseEnrollLink(codeInput.value, issuer);
    if (!pasted) {
      replace(error, t('enroll.needCode'));
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
        h('h2', {}, t('enroll.pin.title')),
        h('p', {}, t('enroll.pin.why')),
        h('p', { 'data-testid': 'pin-rule' }, t('enroll.pin.rule', { min: String(MIN_PIN_LENGTH) })),
        field(t('enroll.pin.new'), pin, t('enroll.pin.newHint', { min: String(MIN_PIN_LENGTH) })),
        field(t('enroll.pin.again'), again),
        pinError,
        h('button', { type: 'submit', class: 'primary', 'data-testid': 'new-pin-submit' }, t('enroll.pin.set')),
      );
      form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        if (pin.value.length < MIN_PIN_LENGTH) {
          replace(pinError, t('enroll.pin.tooShort', { min: String(MIN_PIN_LENGTH) }));
          pin.focus();
        } else if (pin.value !== again.value) {
          replace(pinError, t('enroll.pin.differ'));
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
    h1.textContent = t('enroll.done.title');
    replace(
      body,
      h('p', { 'data-testid': 'enroll-done' }, t('enroll.done', { name: accountLabel(account), user: account.account.username, host: hostOf(account.issuer) })),
      push.ok
        ? h('p', { 'data-testid': 'enroll-push' }, t('enroll.push.on'))
        : h('p', { 'data-testid': 'enroll-push' }, t('enroll.push.off', { reason: push.reason })),
      h('p', { class: 'actions' }, button(t('enroll.finish'), () => ctx.navigate('./', true), { class: 'primary', 'data-testid': 'enroll-finish' })),
    );
    h1.focus();
    announce(t('enroll.added'));
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

  const video = h('video', { class: 'scanner', hidden: true, 'aria-label': t('enroll.camera') });
  const photo = h('input', { type: 'file', accept: 'image/*', hidden: true, 'aria-hidden': 'true', tabindex: -1, 'data-testid': 'qr-file' });
  const stopScan = button(t('enroll.stopScan'), () => scanning?.abort(), { hidden: true });

  function useScanned(text: string | null): void {
    const link = text ? parseEnrollLink(text, normalizeIssuer(issuerInput.value)) : null;
    if (!link) {
      replace(error, text ? t('enroll.notEnrollQr') : t('enroll.noQr'));
      return;
    }
    issuerInput.value = link.issuer;
    codeInput.value = link.code;
    replace(error);
    status.textContent = t('enroll.codeRead', { host: hostOf(link.issuer) });
    submit.focus();
  }

  const scanButton = button(t('enroll.scan'), async () => {
    if (!navigator.mediaDevices?.getUserMedia) {
      replace(error, t('enroll.noCamera'));
      return;
    }
    scanning = new AbortController();
    video.hidden = false;
    stopScan.hidden = false;
    try {
      useScanned(await scanCamera(video, scanning.signal));
    } catch (err) {
      if (!(err instanceof DOMException && err.name === 'AbortError')) replace(error, t('enroll.cameraError', { reason: err instanceof Error ? err.message : String(err) }));
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
      h('p', {}, t('enroll.fromLink')),
      h('p', { class: 'issuer', 'data-testid': 'enroll-issuer' }, hostOf(fromLink.issuer)),
      foreign ? h('p', { class: 'alert' }, t('enroll.foreign', { here: location.host, there: hostOf(fromLink.issuer) })) : null,
      field(t('enroll.deviceName'), nameInput, t('enroll.deviceNameHint')),
    );
  } else {
    form.append(
      h('p', {}, t('enroll.scanIntro')),
      h('div', { class: 'actions' }, scanButton, button(t('enroll.photo'), () => photo.click()), photo),
      video,
      stopScan,
      field(t('enroll.issuer'), issuerInput),
      field(t('enroll.code'), codeInput, t('enroll.codeHint')),
      field(t('enroll.deviceName'), nameInput, t('enroll.deviceNameHint')),
    );
  }
  form.append(error, status, h('div', { class: 'actions' }, submit, button(t('enroll.cancel'), () => ctx.navigate('./'), { 'data-testid': 'enroll-cancel' })));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const link = linkFromForm();
    if (!link) return;
    // A typed or scanned code for another site than this app's: said first, and sent only when the
    // user submits again (the link form shows the same warning above its button).
    if (!fromLink && new URL(link.issuer).origin !== location.origin && confirmedForeign !== link.issuer) {
      confirmedForeign = link.issuer;
      replace(error, `${t('enroll.foreign', { here: location.host, there: hostOf(link.issuer) })} ${t('enroll.foreignAgain')}`);
      submit.focus();
      return;
    }
    if (!nameInput.value.trim()) {
      replace(error, t('enroll.needName'));
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
