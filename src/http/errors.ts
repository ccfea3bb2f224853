/**
 * Errors with a stable code and an HTTP status, thrown anywhere and turned into a response at the
 * edge (HTML page for browsers, `{ error, error_description }` JSON for APIs). `expose` = the
 * message is safe to show.
 */
export class HttpError extends Error {
  readonly expose = true;
  constructor(readonly status: number, readonly code: string, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

export const badRequest = (message: string, code = 'invalid_request') => new HttpError(400, code, message);
export const forbidden = (message: string, code = 'forbidden') => new HttpError(403, code, message);
export const notFound = (message = 'Not found.', code = 'not_found') => new HttpError(404, code, message);
