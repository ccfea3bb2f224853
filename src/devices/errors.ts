import type { ApprovalErrorCode, DeviceAuthVerdict } from '../approval/types.js';
import { AppError } from '../http/errors.js';
/**
 * Every refusal of the device API and the device service, with the stable wire code of
 * docs/device-api.md. Thrown inside handlers, turned into `{ error, error_description }` at the
 * edge (src/http/edge.ts); one member of the error family of src/http/errors.ts.
 */
export type DeviceErrorCode =
  | ApprovalErrorCode
  | DeviceAuthErrorCode
  | 'invalid_enrollment_code'
  | 'webauthn_required'
  | 'webauthn_registration_failed'
  | 'user_verification_required'
  | 'user_verification_failed'
  | 'rate_limited'
  | 'too_many_attempts'
  | 'account_disabled'
  | 'device_limit_reached'
  | 'not_found'
  | 'method_not_allowed'
  | 'device_not_found'
  | 'account_not_found'
  | 'server_error';

type DeviceAuthErrorCode = Extract<DeviceAuthVerdict, { ok: false }>['code'];

/** `new DeviceError(code, status, description, headers?)`. */
export class DeviceError extends AppError<DeviceErrorCode> {
  override readonly name = 'DeviceError';
  constructor(code: DeviceErrorCode, status: number, description: string, headers: Record<string, string> = {}) {
    super(code, status, description, headers);
  }

  /** The `error_description` on the wire (the message). */
  get description(): string {
    return this.message;
  }
}

export const invalidRequest = (description: string): DeviceError =>
  new DeviceError('invalid_request', 400, description);
