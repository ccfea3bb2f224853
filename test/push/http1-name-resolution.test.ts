import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createPushEndpointGuard, type PushResolver } from '../../src/push/endpoint-guard.js';
import { parsePushServices } from '../../src/push/endpoint-policy.js';
import { createPushTransport } from '../../src/push/transport.js';

/**
 * A push service that speaks only HTTP/1.1, reached by name (an operator's PUSH_SERVICES entry):
 * the transport's pooled HTTP/1.1 connections resolve the name through the endpoint guard as its
 * HTTP/2 probe does, every time they connect. A name that stops resolving (or, for a vendor's name,
 * turns inward) between two connections gets no connection at all.
 */
let dir: string;
let server: https.Server;
let port: number;
let connections = 0;
let answering = true;
const lookedUp: string[] = [];
const resolver: PushResolver = async (hostname) => {
  lookedUp.push(hostname);
  if (hostname === 'push.local.test' && answering) return [{ address: '127.0.0.1', family: 4 }];
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
};

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'push-h1-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${dir}/key.pem`, '-out', `${dir}/cert.pem`,
    '-days', '1', '-subj', '/CN=push.local.test', '-addext', 'subjectAltName=DNS:push.local.test'], { stdio: 'ignore' });
  server = https.createServer({ key: readFileSync(`${dir}/key.pem`), cert: readFileSync(`${dir}/cert.pem`) }, (req, res) => {
    req.resume();
    req.on('end', () => { res.writeHead(201, { 'content-length': '0' }); res.end(); });
  });
  server.on('connection', () => { connections++; });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

afterAll(() => {
  server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('HTTP/1.1 push connections resolve through the endpoint guard', () => {
  it('delivers over a pooled connection the guard resolved, and makes none once the name stops resolving', async () => {
    const guard = createPushEndpointGuard({ services: parsePushServices(`push.local.test:${port}`), resolve: resolver });
    const transport = createPushTransport({ ca: readFileSync(`${dir}/cert.pem`, 'utf8'), guard });
    const url = new URL(`https://push.local.test:${port}/push/abc`);
    const headers = { TTL: '60', 'Content-Type': 'application/octet-stream', 'Content-Encoding': 'aes128gcm' };
    try {
      const first = await transport.post(url, headers, Buffer.alloc(10), 2000);
      expect(first).toEqual({ kind: 'response', status: 201, retryAfter: undefined });
      expect(transport.protocolOf(url.origin)).toBe('http/1.1');
      // The HTTP/2 probe, then the pooled HTTP/1.1 connection: both by the guard's resolver.
      expect(lookedUp).toEqual(['push.local.test', 'push.local.test']);
      expect(connections).toBe(2);

      // The service drops its idle connections; the name no longer resolves.
      server.closeAllConnections();
      await new Promise((r) => setTimeout(r, 50));
      answering = false;
      const second = await transport.post(url, headers, Buffer.alloc(10), 2000);
      expect(second).toMatchObject({ kind: 'error', reason: 'network_error' });
      expect((second as { message: string }).message).toMatch(/ENOTFOUND push\.local\.test/);
      expect(lookedUp).toHaveLength(3);
      expect(connections).toBe(2);
    } finally {
      await transport.close();
    }
  });
});
