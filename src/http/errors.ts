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
