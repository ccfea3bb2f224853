import { t } from './ui/lang.js';
import { enroll, webauthnOptions, type EnrollRequest } from './api.js';
import { fromBase32 } from './b64.js';
import { exportPublicJwk, generateDeviceKey } from './keys.js';
import { enablePush, type PushOutcome } from './push-setup.js';
import { pinSecrets, plainSecrets, rememberUnlocked, type Material } from './secrets.js';
import { putAccount } from './store.js';
import type { TotpAlgorithm } from './totp.js';
import { accountKey, type AccountRecord, type EnrollResponse, type RegistrationResponseJson, type UnlockPolicy } from './types.js';
import { registerCredential, webauthnAvailable } from './webauthn.js';

/** Enrollment (docs/device-api.md section 1), from a link, a scanned QR code or a typed code. */

export interface EnrollLink {
  issuer: string;
  code: string;
  /** Optional `unlock` hint in the link: lets the app register WebAuthn before it enrolls. */
  unlock: UnlockPolicy | null;
}

/** An issuer URL the app will talk to: https, or http on this machine (development), no query. */
export function normalizeIssuer(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    return null;
  }
  const local = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && local)) return null;
  if (url.username || url.password || url.search || url.hash) return null;
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

const CODE = /^[A-Za-z0-9][A-Za-z0-9-]{3,127}$/;

export function normalizeCode(value: string): string | null {
  const code = value.trim().replace(/\s+/g, '');
  return CODE.test(code) ? code : null;
}

function unlockHint(value: string | null): UnlockPolicy | null {
  return value === 'none' || value === 'pin' || value === 'webauthn' ? value : null;
}

/**
 * Reads `{issuer}/pwa/?enroll={code}&issuer={issuer}` (a link or a scanned QR code). A bare code
 * is taken with `defaultIssuer`.
 */
export function parseEnrollLink(text: string, defaultIssuer: string | null): EnrollLink | null {
  const trimmed = text.trim();
  if (/^https?:\/\//i.test(trimmed)) {
    let url: URL;
    try {
      url = new URL(trimmed);
    } catch {
      return null;
    }
    const code = normalizeCode(url.searchParams.get('enroll') ?? '');
    const fallback = `${url.origin}${url.pathname.replace(/\/pwa\/?.*$/, '')}`;
    const issuer = normalizeIssuer(url.searchParams.get('issuer') ?? fallback);
    return code && issuer ? { code, issuer, unlock: unlockHint(url.searchParams.get('unlock')) } : null;
  }
  const code = normalizeCode(trimmed);
  return code && defaultIssuer ? { code, issuer: defaultIssuer, unlock: null } : null;
}

/**
 * A name for this device that the user can recognise on the IdP's device list: the phone's model
 * when the browser tells it (Android does, unless it reduces the user agent to "K"), else the
 * browser and system, and the day it was added, so two phones of one kind stay apart.
 */
export function defaultDeviceName(ua = navigator.userAgent, now = new Date(), locale = navigator.language): string {
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /Chrome\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : 'Browser';
  const os = /iPhone/.test(ua) ? 'iPhone' : /iPad/.test(ua) ? 'iPad' : /Android/.test(ua) ? 'Android' : /Mac OS X/.test(ua) ? 'Mac' : /Windows/.test(ua) ? 'Windows' : /Linux/.test(ua) ? 'Linux' : 'device';
  const model = /Android [\d.]+; ([^;)]{2,32})(?:\sBuild\/[^;)]*)?\)/.exec(ua)?.[1]?.trim();
  let day: string;
  try {
    day = new Intl.DateTimeFormat(locale, { day: 'numeric', month: 'short', year: 'numeric' }).format(now);
  } catch {
    day = now.toISOString().slice(0, 10);
  }
  return `${model && model !== 'K' ? `${model} (${browser})` : `${browser} on ${os}`}, ${day}`.slice(0, 64);
}

function checkResponse(res: EnrollResponse, issuer: string): EnrollResponse {
  const ok =
    res && typeof res.deviceId === 'string' && res.deviceId.length > 0 &&
    typeof res.account?.id === 'string' && typeof res.account.username === 'string' &&
    typeof res.totp?.secret === 'string' && typeof res.policy === 'object' && res.policy !== null;
  if (!ok) throw new Error(t('enroll.unexpected'));
  if (normalizeIssuer(res.issuer ?? '') !== issuer) throw new Error(`The server says it is ${res.issuer}, not ${issuer}.`);
  return res;
}

export interface EnrollOptions {
  link: EnrollLink;
  deviceName: string;
  /** Started synchronously from the user's tap (askPermission in push-setup.ts). */
  permission: Promise<NotificationPermission>;
  /** Asks the user to choose a PIN; called only when the policy says 'pin'. */
  choosePin: () => Promise<string>;
  progress?: (message: string) => void;
}

export interface EnrollOutcome {
  account: AccountRecord;
  material: Material;
  push: PushOutcome;
}

/**
 * Enrolls this device. The private key is generated extractable and exists so only in this
 * function: the policy (and so whether a PIN must seal it) is known only from the enroll response.
 * Before anything is stored it is sealed under the PIN, or re-imported non-extractable.
 */
export async function enrollAccount(opts: EnrollOptions): Promise<EnrollOutcome> {
  const { link, progress = () => {} } = opts;
  let credential: RegistrationResponseJson | null = null;
  if (link.unlock === 'webauthn' && webauthnAvailable()) {
    // The IdP's options carry a challenge bound to this code: the IdP verifies the registration.
    const { publicKey } = await webauthnOptions(link.issuer, link.code);
    // One prompt at a time: the notification question (started by the tap) is answered first.
    await opts.permission.catch(() => 'denied');
    progress(t('enroll.progress.screenLock'));
    credential = await registerCredential(publicKey);
  }

  // The link says the server wants a PIN: it is chosen before anything is registered, so a user
  // who stops here leaves no half-made device behind (docs/device-api.md section 1b).
  let chosenPin: string | null = null;
  if (link.unlock === 'pin') {
    progress(t('enroll.progress.choosePin'));
    chosenPin = await opts.choosePin();
  }

  progress(t('enroll.progress.key'));
  const pair = await generateDeviceKey(true);
  const request: EnrollRequest = {
    code: link.code,
    name: opts.deviceName.trim().slice(0, 64) || defaultDeviceName(),
    publicJwk: await exportPublicJwk(pair.publicKey),
    push: null,
    ...(credential ? { webauthn: credential } : {}),
  };
  progress(t('enroll.progress.register'));
  const res = checkResponse(await enroll(link.issuer, request), link.issuer);

  const id = accountKey(link.issuer, res.deviceId);
  const totp = {
    algorithm: (['SHA1', 'SHA256', 'SHA512'].includes(res.totp.algorithm) ? res.totp.algorithm : 'SHA1') as TotpAlgorithm,
    // The server sends 6 (src/device-api/contract.ts); an 8 is still read as 8, should one ever come.
    digits: (res.totp.digits as number) === 8 ? (8 as const) : (6 as const),
    period: Number.isInteger(res.totp.period) && res.totp.period > 0 ? res.totp.period : 30,
  };
  const unlock: UnlockPolicy = res.policy.unlock === 'pin' || res.policy.unlock === 'webauthn' ? res.policy.unlock : 'none';
  const secret = fromBase32(res.totp.secret);

  // Non-extractable copies: the page's keys (plain accounts store them; PIN accounts keep them in memory).
  const plain = await plainSecrets(pair.privateKey, secret, { totp });
  let pin: string | null = null;
  if (unlock === 'pin') {
    // A link without the hint: the answer is the first to say a PIN is needed.
    if (chosenPin === null) progress(t('enroll.progress.choosePin'));
    pin = chosenPin ?? (await opts.choosePin());
    progress(t('enroll.progress.seal'));
  }

  const account: AccountRecord = {
    id,
    issuer: link.issuer,
    deviceId: res.deviceId,
    deviceName: request.name,
    account: { id: res.account.id, username: res.account.username, displayName: res.account.displayName ?? res.account.username },
    policy: {
      numberMatching: res.policy.numberMatching === true,
      unlock,
      pollIntervalSeconds: Math.max(2, Number(res.policy.pollIntervalSeconds) || 5),
    },
    totp,
    vapidPublicKey: typeof res.vapidPublicKey === 'string' && res.vapidPublicKey ? res.vapidPublicKey : null,
    push: { status: 'none', endpoint: null, scope: null },
    lastUsedStep: 0,
    revoked: false,
    webauthn: credential ? { credentialId: credential.id } : null,
    secrets: pin !== null ? await pinSecrets({ id }, pin, pair.privateKey, secret) : plain,
    createdAt: Date.now(),
  };
  secret.fill(0);
  await putAccount(account);
  // A PIN account starts unlocked in this page: the PIN was just typed.
  if (pin !== null) rememberUnlocked(account.id, plain);
  const material: Material = plain;
  progress(t('enroll.progress.push'));
  const permission = await opts.permission.catch(() => 'denied' as const);
  const push: PushOutcome =
    permission === 'granted' ? await enablePush(account, material) : { ok: false, reason: t('home.push.notAllowed') };
  return { account, material, push };
}
