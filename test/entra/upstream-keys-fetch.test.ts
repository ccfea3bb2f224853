import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createJwksCache, KeysUnavailable } from '../../src/upstream/jwks-cache.js';

/**
 * An upstream's key endpoint that fails while sending its body, or sends too much. Red-team
 * (broker round): the body was read outside the check that turns failures into "keys
 * unavailable", so a connection reset or the timeout mid-body was a 500 page instead of
 * temporarily_unavailable at the app; and a 48 MB set was read to its end before the 512 KB cap.
 */
type Mode = 'reset' | 'slow' | 'big' | 'declared' | 'good';
let mode: Mode = 'good';
let sent = 0;
let ended = false;

function answer(res: ServerResponse) {
  if (mode === 'declared') { res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(600 * 1024) }); res.end(); return; }
  res.writeHead(200, { 'content-type': 'application/json' });
  if (mode === 'good') { res.end(JSON.stringify({ keys: [{ kty: 'EC', crv: 'P-256', kid: 'k1', x: 'x', y: 'y' }] })); return; }
  res.write('{"keys":[');
  if (mode === 'reset') { setTimeout(() => res.socket?.destroy(), 50); return; }
  if (mode === 'slow') { const t = setInterval(() => (res.destroyed ? clearInterval(t) : res.write(' ')), 100); return; }
  const chunk = Buffer.alloc(1 << 20, 0x20);
  const pump = () => {
    while (sent < 48 * chunk.length) {
      sent += chunk.length;
      if (!res.write(chunk)) { res.once('drain', pump); return; }
    }
    res.end(']}', () => { ended = true; });
  };
  res.on('close', () => undefined);
  pump();
}

describe('the upstream key set is read with a size cap, and every failure reads as keys unavailable', () => {
  let server: Server;
  let uri: string;
  beforeAll(async () => {
    server = createServer((_req, res) => answer(res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/keys`;
  });
  afterAll(async () => { server.closeAllConnections(); await new Promise((r) => server.close(r)); });

  const keyOf = (m: Mode) => { mode = m; return createJwksCache({ uri, file: null, fetchTimeoutMs: 1000 }).key('k1'); };

  it('a well-formed set gives its key (the baseline)', async () => {
    await expect(keyOf('good')).resolves.toMatchObject({ kid: 'k1' });
  });

  it.each<[Mode, RegExp]>([
    ['reset', /reading .* failed/],
    ['slow', /reading .* failed/],
    ['declared', /larger than 524288 bytes/],
  ])('%s: KeysUnavailable, not another error', async (m, message) => {
    const err = await keyOf(m).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KeysUnavailable);
    expect((err as Error).message).toMatch(message);
  });

  it('a 48 MB set: refused as too large, and the IdP stops reading long before its end', async () => {
    const err = await keyOf('big').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KeysUnavailable);
    expect((err as Error).message).toMatch(/larger than 524288 bytes/);
    await new Promise((r) => setTimeout(r, 300));
    expect(ended).toBe(false); // the server never finished sending: the connection was dropped
  });
});
