import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * JSON log lines on stdout. The redact list is a second line of defence: no code path should log a
 * password, passcode or secret in the first place.
 */
export function createLogger(level = 'info', destination?: NodeJS.WritableStream): Logger {
  return pino({
    level,
    base: { service: 'pushotp-idp' },
    redact: { paths: ['password', 'passcode', 'otp', 'secret', 'totp', 'code', '*.password', '*.passcode', '*.secret', '*.otp'], censor: '[redacted]' },
  }, destination as never);
}
