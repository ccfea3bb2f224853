import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { ConfigError } from '../config/settings.js';

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * PUSH_CA: the CA certificates to trust for push services besides Node's bundled roots (an
 * operator's push proxy behind a private CA; the tests' local push service). Added, not instead:
 * the browser vendors' services keep working. A file that is missing or holds no certificate
 * stops the start, naming the setting.
 */
export function pushTrustStore(file: string | null): string[] | undefined {
  if (file === null) return undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('environment', 'PUSH_CA', `cannot read ${file}: ${(err as Error).message}`);
  }
  const certs = text.match(PEM_CERT) ?? [];
  if (certs.length === 0) throw new ConfigError('environment', 'PUSH_CA', `${file} holds no PEM certificate`);
  for (const pem of certs) {
    try {
      new X509Certificate(pem);
    } catch {
      throw new ConfigError('environment', 'PUSH_CA', `${file} holds a certificate that does not parse`);
    }
  }
  return [...tls.rootCertificates, ...certs];
}
