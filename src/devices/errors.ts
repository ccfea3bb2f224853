import type { DeviceApiErrorCode } from '../device-api/contract.js';
import { AppError } from '../http/errors.js';
/**
 * Every refusal of the device API and the device service. The API's wire codes are the contract's
 * (src/device-api/contract.ts, docs/device-api.md), which the PWA reads too; the device service adds
 * two for the pages and the CLI. Thrown inside handlers, turned into `{ error, error_description }`
 * at the edge (src/http/edge.ts); one member of the error family of src/http/errors.ts.
 */
export type DeviceErrorCode = DeviceApiErrorCode | 'device_not_found' | 'account_not_found' | 'enrollment_not_allowed' | 'session_ended';

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
