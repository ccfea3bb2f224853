import initializeKeystore from 'oidc-provider/lib/helpers/initialize_keystore.js';
import type { JWK } from 'jose';
import { planSigningKeys, type StoredSigningKeys } from './signing-rotation.js';
import { providerSigningKeys } from '../oidc/fast-signing.js';

/**
 * Keeps a running oidc-provider on the stored signing-key plan (./signing-rotation.ts). Apart from
 * the pure plan, so that the admin CLI does not load oidc-provider's internals.
 */

/** The published kids in order: what decides whether a running provider must be re-keyed. */
export const planFingerprint = (jwks: { keys: JWK[] }): string => jwks.keys.map((k) => k.kid).join(',');

/**
 * Re-keys a running oidc-provider: the same step its constructor runs on `configuration.jwks`
 * (validation included), so JWKS and signing follow the new plan from the next request.
 */
export function applySigningKeys(provider: object, jwks: { keys: JWK[] }): void {
  // Its signing keys sign in place (src/oidc/fast-signing.ts), as at start.
  initializeKeystore.call(provider, providerSigningKeys(jwks));
}

export interface SigningKeyRefresher {
  /** Reads the stored keys and re-keys the provider if the plan changed. */
  refresh(): Promise<void>;
  stop(): void;
}

/**
 * Keeps a running process on the stored plan: checks every `intervalMs`, and at once when a rotation
 * is announced (./signing-announce.ts), so a rotation run from the CLI on any machine reaches every
 * process. A refresh asked for during a read runs again after it.
 */
export function startSigningKeyRefresh(opts: {
  provider: object;
  load: () => Promise<StoredSigningKeys>;
  now: () => number;
  intervalMs: number;
  current: { keys: JWK[] };
  onError: (err: unknown) => void;
  onChange?: (jwks: { keys: JWK[] }) => void;
}): SigningKeyRefresher {
  let applied = planFingerprint(opts.current);
  let running: Promise<void> | null = null;
  /** A read asked for while one was under way: that one may have read before the change it was asked for. */
  let queued: Promise<void> | null = null;
  const read = async (): Promise<void> => {
    try {
      const plan = planSigningKeys(await opts.load(), opts.now());
      const fingerprint = planFingerprint(plan);
      if (fingerprint !== applied) {
        applySigningKeys(opts.provider, plan);
        applied = fingerprint;
        opts.onChange?.(plan);
      }
    } catch (err) {
      opts.onError(err);
    }
  };
  const refresh = (): Promise<void> => {
    if (!running) {
      running = read().finally(() => { running = null; });
      return running;
    }
    queued ??= running.then(() => {
      queued = null;
      return refresh();
    });
    return queued;
  };
  const timer = setInterval(() => void refresh(), opts.intervalMs);
  timer.unref();
  return { refresh, stop: () => clearInterval(timer) };
}
