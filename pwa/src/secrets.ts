import { derivePinKey, openBytes, openPrivateKey, PIN_ITERATIONS, sealBytes, sealPrivateKey, toNonExtractable } from './keys.js';
import { importTotpSecret } from './totp.js';
import { getAccount, updateAccount } from './store.js';
import type { AccountRecord, PinSecrets, PlainSecrets } from './types.js';

/**
 * What signs and what computes passcodes for an account. Plain accounts keep non-extractable
 * CryptoKeys; PIN accounts keep sealed blobs and are opened into this page's memory only.
 */

export interface Material {
  privateKey: CryptoKey;
  totpKey: CryptoKey;
}

const unlocked = new Map<string, Material>();
/** WebAuthn accounts whose user was verified in this page (passcodes are shown after that). */
const verified = new Set<string>();

/** Wrong PINs before a wait is imposed, and the first wait (doubling, capped at one hour). */
const FREE_ATTEMPTS = 5;
const FIRST_WAIT_MS = 30_000;
const MAX_WAIT_MS = 3_600_000;

export const MIN_PIN_LENGTH = 6;

export class WrongPinError extends Error {
  override readonly name = 'WrongPinError';
  constructor(readonly retryAfter: number) {
    super('wrong PIN');
  }
}

export class PinWaitError extends Error {
  override readonly name = 'PinWaitError';
  constructor(readonly retryAfter: number) {
    super('too many wrong PINs');
  }
}

const aad = (account: Pick<AccountRecord, 'id'>, what: string) => `pushotp:${account.id}:${what}`;

/** Plain secrets: the private key as non-extractable, the TOTP secret as an HMAC key. */
export async function plainSecrets(privateKey: CryptoKey, secret: Uint8Array<ArrayBuffer>, account: Pick<AccountRecord, 'totp'>): Promise<PlainSecrets> {
  return {
    kind: 'plain',
    privateKey: privateKey.extractable ? await toNonExtractable(privateKey) : privateKey,
    totpKey: await importTotpSecret(secret, account.totp.algorithm),
  };
}

/** Seals both secrets under the PIN. `privateKey` must be extractable (enrollment only). */
export async function pinSecrets(
  account: Pick<AccountRecord, 'id'>,
  pin: string,
  privateKey: CryptoKey,
  secret: Uint8Array<ArrayBuffer>,
): Promise<PinSecrets> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const key = await derivePinKey(pin, salt, PIN_ITERATIONS);
  return {
    kind: 'pin',
    salt,
    iterations: PIN_ITERATIONS,
    sealedPrivateKey: await sealPrivateKey(key, privateKey, aad(account, 'device-key')),
    sealedTotpSecret: await sealBytes(key, secret, aad(account, 'totp-secret')),
    failures: 0,
    retryAfter: 0,
  };
}

/** True while passcodes must stay hidden: a PIN not entered, or a WebAuthn user not verified. */
export function isLocked(account: AccountRecord): boolean {
  if (account.secrets.kind === 'pin') return !unlocked.has(account.id);
  return account.policy.unlock === 'webauthn' && !verified.has(account.id);
}

export function markVerified(accountId: string): void {
  verified.add(accountId);
}

/** The keys, or null while a PIN account is locked. */
export function materialFor(account: AccountRecord): Material | null {
  if (account.secrets.kind === 'plain') return account.secrets;
  return unlocked.get(account.id) ?? null;
}

/** Opens a PIN account for this page's lifetime (or until lock()). */
export async function unlockWithPin(given: AccountRecord, pin: string, now = Date.now()): Promise<Material> {
  // The stored record, not the caller's copy: a form drawn before the last wrong PINs holds a copy
  // that says no wait and no failures (red-team: eight wrong PINs in one open form met no wait, and
  // the right one then left the stored failures in place, locking its user out after a reload).
  const account = (await getAccount(given.id)) ?? given;
  const secrets = account.secrets;
  if (secrets.kind !== 'pin') throw new Error('this account has no PIN');
  if (secrets.retryAfter > now) throw new PinWaitError(secrets.retryAfter);
  const key = await derivePinKey(pin, secrets.salt, secrets.iterations);
  let material: Material;
  try {
    const secretBytes = await openBytes(key, secrets.sealedTotpSecret, aad(account, 'totp-secret'));
    material = {
      privateKey: await openPrivateKey(key, secrets.sealedPrivateKey, aad(account, 'device-key')),
      totpKey: await importTotpSecret(secretBytes, account.totp.algorithm),
    };
    secretBytes.fill(0);
  } catch {
    const stored = await updateAccount(account.id, (a) => {
      if (a.secrets.kind !== 'pin') return a;
      const failures = a.secrets.failures + 1;
      const wait = failures < FREE_ATTEMPTS ? 0 : Math.min(FIRST_WAIT_MS * 2 ** (failures - FREE_ATTEMPTS), MAX_WAIT_MS);
      return { ...a, secrets: { ...a.secrets, failures, retryAfter: wait ? now + wait : 0 } };
    });
    const retryAfter = stored?.secrets.kind === 'pin' ? stored.secrets.retryAfter : 0;
    throw new WrongPinError(retryAfter);
  }
  if (secrets.failures > 0) {
    await updateAccount(account.id, (a) => (a.secrets.kind === 'pin' ? { ...a, secrets: { ...a.secrets, failures: 0, retryAfter: 0 } } : a));
  }
  unlocked.set(account.id, material);
  return material;
}

export function rememberUnlocked(accountId: string, material: Material): void {
  unlocked.set(accountId, material);
}

export function lock(accountId?: string): void {
  if (accountId === undefined) {
    unlocked.clear();
    verified.clear();
  } else {
    unlocked.delete(accountId);
    verified.delete(accountId);
  }
}
