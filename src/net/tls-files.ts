import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { ConfigError } from '../config/settings.js';

/**
 * PEM files named by settings (PUSH_CA, REDIS_CA, REDIS_CLIENT_CERT, REDIS_CLIENT_KEY), read once at
 * start. A file that is missing, empty of what it should hold, or does not parse stops the start
 * with one line naming the setting and the file, never quoting what the file holds.
 */

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function readSetting(file: string, setting: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('environment', setting, `cannot read ${file}: ${(err as Error).message}`);
  }
}

/** The certificates of a PEM file, each checked to parse. */
export function pemCertificates(file: string, setting: string): string[] {
  const certs = readSetting(file, setting).match(PEM_CERT) ?? [];
  if (certs.length === 0) throw new ConfigError('environment', setting, `${file} holds no PEM certificate`);
  for (const pem of certs) {
    try {
      new X509Certificate(pem);
    } catch {
      throw new ConfigError('environment', setting, `${file} holds a certificate that does not parse`);
    }
  }
  return certs;
}

/**
 * CA certificates to trust besides Node's bundled roots: added, not instead, so that public
 * services keep working beside an operator's own CA.
 */
export function trustStore(file: string | null, setting: string): string[] | undefined {
  return file === null ? undefined : [...tls.rootCertificates, ...pemCertificates(file, setting)];
}

/** A PEM private key, checked to parse (an encrypted one is refused: nothing would unlock it). */
export function pemPrivateKey(file: string, setting: string): string {
  const text = readSetting(file, setting);
  try {
    createPrivateKey(text);
  } catch {
    throw new ConfigError('environment', setting, `${file} holds no PEM private key that opens without a passphrase`);
  }
  return text;
}
