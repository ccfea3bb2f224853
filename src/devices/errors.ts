/**
 * Every refusal of the device API and the device service, with the stable wire code of
 * docs/device-api.md. Thrown inside handlers, turned into `{ error, error_description }` at the edge.
 */
export type DeviceErrorCode =
  | 'invalid_request'
  | 'invalid_enrollment_code'
  | 'invalid_token'
  | 'unsupported_alg'
  | 'unknown_device'
  | 'device_revoked'
  | 'invalid_signature'
  | 'challenge_not_found'
  | 'wrong_user'
  | 'nonce_mismatch'
  | 'challenge_expired'
  | 'challenge_resolved'
  | 'stale_response'
  | 'invalid_otp'
  | 'otp_replayed'
  | 'number_required'
  | 'webauthn_required'
  | 'user_verification_required'
  | 'user_verification_failed'
  | 'rate_limited'
  | 'not_found'
  | 'method_not_allowed'
  | 'device_not_found'
  | 'account_not_found'
  | 'server_error';

export class DeviceError extends Error {
  override readonly name = 'DeviceError';
  constructor(
    readonly code: DeviceErrorCode,
    readonly status: number,
    readonly description: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(description);
  }
}

export const invalidRequest = (description: string): DeviceError =>
  new DeviceError('invalid_request', 400, description);
