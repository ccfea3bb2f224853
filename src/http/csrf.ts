import { createHmac } from 'node:crypto';
import { safeEqualStrings } from './safe-equal.js';

/**
 * CSRF tokens for our form POSTs: an HMAC of the interaction (or page) id under the cookie key.
 * A cross-site page cannot read it, so it cannot forge a form that carries it.
 */
export function createCsrf(key: string) {
  const token = (scope: string) => createHmac('sha256', key).update(`csrf|${scope}`).digest('base64url');
  return {
    token,
    valid: (scope: string, candidate: unknown) => typeof candidate === 'string' && safeEqualStrings(token(scope), candidate),
  };
}

export type Csrf = ReturnType<typeof createCsrf>;
