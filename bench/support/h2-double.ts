/**
 * A minimal HTTP/2 push-service double (TLS, ALPN h2 with HTTP/1.1 fallback) for the fan-out
 * experiment "ours over HTTP/2": answers 201 to POST /push/<id>; with `verify`, decrypts each
 * message (aes128gcm, http_ece) first, so the experiment's sender is checked, not just timed.
 * The project's double (test/support/push-service.ts) speaks HTTP/1.1 only.
 */
import 'reflect-metadata'; // @peculiar/x509 (tsyringe) needs it
import { createECDH, randomBytes, type ECDH } from 'node:crypto';
import http2 from 'node:http2';
import ece from 'http_ece';

async function selfSigned(): Promise<{ cert: string; key: string }> {
  const x509 = await import('@peculiar/x509');
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await crypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: `01${randomBytes(8).toString('hex')}`, name: 'CN=h2-push-double',
    notBefore: new Date(now - 60_000), notAfter: new Date(now + 24 * 3600_000), signingAlgorithm: alg, keys,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }])],
  }, crypto);
  const der = Buffer.from(await crypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64').replace(/.{64}/g, '$&\n');
  return { cert: cert.toString('pem'), key: `-----BEGIN PRIVATE KEY-----\n${der}\n-----END PRIVATE KEY-----\n` };
}

export interface H2Double {
  origin: string;
  ca: string;
  accepted: number;
  decrypted: string[];
  verify: boolean;
  createSubscription(): { endpoint: string; keys: { p256dh: string; auth: string } };
  close(): Promise<void>;
}

export async function startH2Double(): Promise<H2Double> {
  const { cert, key } = await selfSigned();
  const subs = new Map<string, { ecdh: ECDH; auth: string }>();
  const server = http2.createSecureServer({ cert, key, allowHTTP1: true });
  const double: H2Double = {
    origin: '', ca: cert, accepted: 0, decrypted: [], verify: false,
    createSubscription() {
      const id = randomBytes(12).toString('base64url');
      const ecdh = createECDH('prime256v1');
      ecdh.generateKeys();
      const auth = randomBytes(16).toString('base64url');
      subs.set(id, { ecdh, auth });
      return { endpoint: `${double.origin}/push/${id}`, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth } };
    },
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const sub = subs.get(/^\/push\/([A-Za-z0-9_-]+)$/.exec(String(headers[':path']))?.[1] ?? '');
      if (headers[':method'] !== 'POST' || !sub) return void stream.respond({ ':status': 404 }, { endStream: true });
      if (double.verify) {
        try {
          double.decrypted.push(ece.decrypt(Buffer.concat(chunks), { version: 'aes128gcm', privateKey: sub.ecdh, authSecret: sub.auth }).toString('utf8'));
        } catch {
          return void stream.respond({ ':status': 400 }, { endStream: true });
        }
      }
      double.accepted++;
      stream.respond({ ':status': 201 }, { endStream: true });
    });
    stream.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  double.origin = `https://127.0.0.1:${address.port}`;
  return double;
}
