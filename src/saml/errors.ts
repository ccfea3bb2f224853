import { AppError, technical } from '../http/errors.js';

/** Why a SAML message was refused: the code on the error page (docs/saml.md). */
export type SamlErrorCode =
  | 'acs_not_registered' | 'doctype_refused' | 'expired' | 'invalid_nameid_policy' | 'malformed' | 'replayed'
  | 'unsupported_binding' | 'wrong_destination' | 'signature_invalid' | 'signature_required' | 'unknown_sp' | 'too_large';

/** A refused SAML message: a 4xx with a clear page (the edge renders every AppError), never a 500. */
export class SamlError extends AppError<SamlErrorCode> {
  override readonly name = 'SamlError';
  constructor(status: 400 | 403 | 404 | 413, code: SamlErrorCode, message: string) {
    super(code, status, message);
    technical(this); // an SP's request, refused: the detail is for its developers (English)
  }
}
