import { createServer, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { SERVED_METHODS } from './hostile.js';

/**
 * The IdP's HTTP server. Node hands a CONNECT request to a 'connect' listener and, without one,
 * destroys the socket with no answer; every other method we do not serve gets a 405 from the edge
 * (hostile.ts), so CONNECT gets the same 405, in the OAuth error format, and the connection closes.
 */
export function createIdpServer(callback: RequestListener): Server {
  const server = createServer(callback);
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    const body = JSON.stringify({ error: 'method_not_allowed', error_description: 'CONNECT is not served here.' });
    socket.end([
      'HTTP/1.1 405 Method Not Allowed',
      `Allow: ${SERVED_METHODS.join(', ')}`,
      'Content-Type: application/json; charset=utf-8',
      `Content-Length: ${Buffer.byteLength(body)}`,
      'Cache-Control: no-store',
      'Connection: close',
      '',
      body,
    ].join('\r\n'));
  });
  return server;
}
