import { createHmac } from 'node:crypto';
import { safeEqualStrings } from './safe-equal.js';

/**
 * CSRF tokens for our form POSTs: an HMAC of the interaction (or page) id under the cookie keys.
 * A cross-site page cannot read it, so it cannot forge a form that carries it. Made with the first
 * key, taken under any listed one, as the cookies are (red-team: during a COOKIE_KEYS rotation, a
 * form opened before the restart, or served by an instance still on the old first key, was 403).
 */
export function createCsrf(keys: string[]) {
  const under = (key: string, scope: string) => createHmac('sha256', key).update(`csrf|${scope}`).digest('base64url');
  return {
    token: (scope: string) => under(keys[0]!, scope),
    valid: (scope: string, candidate: unknown) => typeof candidate === 'string'
      && keys.reduce((ok, key) => safeEqualStrings(under(key, scope), candidate) || ok, false),
  };
}

export type Csrf = ReturnType<typeof createCsrf>;
