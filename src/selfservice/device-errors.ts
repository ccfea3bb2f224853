import { DeviceError } from '../devices/errors.js';
import { t, type MessageKey } from '../i18n/index.js';

/** The device service's refusals the account page can meet, and the words the page shows for each. */
const PAGE_MESSAGES: Partial<Record<DeviceError['code'], MessageKey>> = {
  // renameDevice: deviceNameSchema refused the name (1-64 characters, no control characters).
  invalid_request: 'account.error.badName',
  device_not_found: 'account.error.noDevice',
  device_revoked: 'account.error.deviceRevoked',
  // issueEnrollment: a device or an end of the account's sessions came between the page and the code.
  enrollment_not_allowed: 'account.error.enrollClosed',
  session_ended: 'account.error.ended',
};

/**
 * A device service's refusal as the account page shows it: the same code and status, its message
 * in the request's language (the service's own messages are terse English for the API and the CLI).
 * Anything else is returned as it is.
 */
export function inPageLanguage(err: unknown): unknown {
  if (!(err instanceof DeviceError)) return err;
  const key = PAGE_MESSAGES[err.code];
  return key ? new DeviceError(err.code, err.status, t(key), err.headers) : err;
}
