import { pino, type Logger } from 'pino';
import { currentRequestId } from './observability/request-id.js';

export type { Logger };

/** Field names whose values are secrets wherever they appear (docs/production.md, Logs). */
const SECRET_FIELDS = [
  'password', 'passcode', 'otp', 'secret', 'totp', 'token', 'nonce', 'cookie', 'cookies', 'authorization',
  'client_secret', 'access_token', 'refresh_token', 'id_token', 'code_verifier', 'totpSecret', 'recoveryCode', 'set-cookie',
];

/** Up to three levels deep (`password`, `detail.password`, `req.headers.cookie`). */
const REDACT = SECRET_FIELDS.flatMap((f) => {
  const key = /^[A-Za-z_$][\w$]*$/.test(f) ? f : `["${f}"]`;
  const join = (prefix: string) => (key.startsWith('[') ? `${prefix}${key}` : `${prefix}.${key}`);
  return [key, join('*'), join('*.*')];
  // `code` only where it is an enrollment or authorization code: an error's `code` (ECONNREFUSED) stays readable.
}).concat(['code', 'detail.code', 'query.code', 'body.code']);

/**
 * JSON log lines on stdout, each with the request id of the request being served (`reqId`, from
 * src/observability/request-id.ts). The redact list is a second line of defence: no code path
 * should log a password, passcode, token, cookie or secret in the first place.
 */
export function createLogger(level = 'info', destination?: NodeJS.WritableStream): Logger {
  return pino({
    level,
    base: { service: 'pushotp-idp' },
    mixin: () => {
      const reqId = currentRequestId();
      return reqId ? { reqId } : {};
    },
    redact: { paths: REDACT, censor: '[redacted]' },
  }, destination as never);
}
