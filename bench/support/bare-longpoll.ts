/**
 * The floor for a held long-poll (bench/waiting-scale.ts): a bare node:http server, run by
 * BenchChild with the same node flags as the IdP children, that holds every request it gets
 * (request in, no answer) until told to answer them all. Its JS heap per held request is what
 * Node itself costs (socket, parser, IncomingMessage, ServerResponse), before any IdP code.
 * Never run it by hand.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

const held = new Set<ServerResponse>();
const BODY = JSON.stringify({ status: 'approved', reason: null, next: '/interaction/x/wait' });

const server = createServer((req, res) => {
  // As the IdP's long-poll does: headers set now, the answer written later.
  res.statusCode = 200;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  held.add(res);
  res.on('close', () => held.delete(res));
  req.resume();
});
server.keepAliveTimeout = 120_000;
server.headersTimeout = 121_000;
server.requestTimeout = 0;

const send = (msg: unknown): void => {
  process.send?.(msg);
};

process.on('message', (raw: { id: number; cmd: string }) => {
  const reply = (result: unknown) => send({ id: raw.id, result });
  switch (raw.cmd) {
    case 'usage':
      return reply({ pid: process.pid, cpu: process.cpuUsage(), memory: process.memoryUsage(), held: held.size });
    case 'gc':
      (globalThis as { gc?: () => void }).gc?.();
      return reply({ pid: process.pid, cpu: process.cpuUsage(), memory: process.memoryUsage(), held: held.size });
    case 'release': {
      const n = held.size;
      for (const res of held) {
        res.setHeader('Content-Length', Buffer.byteLength(BODY));
        res.end(BODY);
      }
      held.clear();
      return reply(n);
    }
    case 'stop':
      server.closeAllConnections();
      server.close();
      reply(null);
      setImmediate(() => process.exit(0));
      return;
    default:
      send({ id: raw.id, error: `unknown command ${raw.cmd}` });
  }
});

server.listen(0, '127.0.0.1', () => {
  send({ ready: true, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, pid: process.pid });
});
