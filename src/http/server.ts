import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { absoluteToOriginForm } from './edge.js';
import { SERVED_METHODS } from './hostile.js';

/** A whole HTTP/1.1 answer written straight to a socket (no request or response object exists). */
function rawAnswer(status: string, body: { error: string; error_description: string }, extra: string[] = []): string {
  const json = JSON.stringify(body);
  return [
    `HTTP/1.1 ${status}`,
    ...extra,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(json)}`,
    'Cache-Control: no-store',
    'X-Content-Type-Options: nosniff',
    'Connection: close',
    '',
    json,
  ].join('\r\n');
}

const ALLOW = `Allow: ${SERVED_METHODS.join(', ')}`;

/**
 * Pure: what to answer when Node's HTTP parser gives up on a request (it emits 'clientError', and
 * without a listener writes a bare 400 or 431 with no body). Null: nothing, close the socket (the
 * peer reset it, or it timed out before sending anything that could be answered).
 */
export function clientErrorAnswer(code: string | undefined): string | null {
  switch (code) {
    case 'ECONNRESET':
    case 'EPIPE':
      return null;
    case 'HPE_HEADER_OVERFLOW':
      return rawAnswer('431 Request Header Fields Too Large', { error: 'invalid_request', error_description: 'The request line and headers are over 16 KiB.' });
    case 'HPE_INVALID_METHOD':
      return rawAnswer('405 Method Not Allowed', { error: 'method_not_allowed', error_description: 'This method is not served here.' }, [ALLOW]);
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'HPE_HEADER_TIMEOUT':
      return rawAnswer('408 Request Timeout', { error: 'invalid_request', error_description: 'The request took too long to arrive.' });
    default:
      return rawAnswer('400 Bad Request', { error: 'invalid_request', error_description: 'The request is not well-formed HTTP/1.1.' });
  }
}

/**
 * The IdP's HTTP server. Node hands a CONNECT request to a 'connect' listener and, without one,
 * destroys the socket with no answer; every other method we do not serve gets a 405 from the edge
 * (hostile.ts), so CONNECT gets the same 405, in the OAuth error format, and the connection closes.
 * So does what Node's parser refuses (an unknown method, bad chunking, a header line with a space
 * in its name, headers over 16 KiB): hostile-input red-team, a bare 400 or 431 with no body on
 * /token and /me. An absolute-form request target (`GET http://host/path`) becomes its path before
 * anything reads it: Koa's path parser (the legacy url.parse) threw on `http://[::1/x` and the
 * request ended as a plain-text 500 that no log line recorded; one no URL parser accepts gets a 400.
 */
/**
 * How long a request may take to arrive. Node's defaults held a request whose body never came for
 * 300 s (hostile-input red-team: a slow body): every request here is small, and a held long-poll
 * or a push's wait is the answer's time, not the request's. Past it, a JSON 408 (clientErrorAnswer).
 */
export const REQUEST_TIMEOUTS = { requestMs: 30_000, headersMs: 20_000, checkEveryMs: 5_000 };

/** A refusal written before Koa sees the request, in the OAuth error format, and the connection closed after it. */
function answerJson(res: ServerResponse, status: number, error: string, description: string): void {
  const body = JSON.stringify({ error, error_description: description });
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', 'Content-Length': Buffer.byteLength(body), Connection: 'close' });
  res.end(body);
}

export function createIdpServer(callback: RequestListener, timeouts = REQUEST_TIMEOUTS): Server {
  const served: RequestListener = (req, res) => {
    // HTTP/1.1 requires Host (RFC 9112 3.2). Node's own check wrote a bare 400 with no body, even at
    // the OAuth endpoints (hostile-input red-team); this one answers as every other refusal does.
    if (req.headers.host === undefined && req.httpVersionMajor === 1 && req.httpVersionMinor >= 1) {
      answerJson(res, 400, 'invalid_request', 'An HTTP/1.1 request must carry a Host header.');
      return;
    }
    const target = req.url ?? '/';
    if (!target.startsWith('/') && target !== '*') {
      const originForm = absoluteToOriginForm(target);
      if (originForm === null) {
        answerJson(res, 400, 'invalid_request', 'The request target must be a path.');
        return;
      }
      req.url = originForm;
    }
    callback(req, res);
  };
  const server = createServer({
    requireHostHeader: false,
    requestTimeout: timeouts.requestMs, headersTimeout: timeouts.headersMs, connectionsCheckingInterval: timeouts.checkEveryMs,
  }, served);
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    socket.end(rawAnswer('405 Method Not Allowed', { error: 'method_not_allowed', error_description: 'CONNECT is not served here.' }, [ALLOW]));
  });
  // An Expect other than 100-continue: Node wrote a bare 417 with no body (hostile-input red-team).
  server.on('checkExpectation', (_req: IncomingMessage, res: ServerResponse) => {
    answerJson(res, 417, 'invalid_request', 'Only "Expect: 100-continue" is understood.');
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // Not over a response already on its way on this connection (Node's own handler checks the same).
    const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
    const answer = socket.writable && !inFlight ? clientErrorAnswer(err.code) : null;
    if (answer === null) socket.destroy();
    else socket.end(answer);
  });
  return server;
}
