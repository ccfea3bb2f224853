import { HttpError } from '../http/errors.js';

/** A refused SAML message: a 4xx with a clear page (the edge renders HttpError), never a 500. */
export class SamlError extends HttpError {
  constructor(status: 400 | 403 | 404 | 413, code: string, message: string) {
    super(status, code, message);
  }
}
