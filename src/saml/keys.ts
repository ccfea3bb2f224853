import { createPrivateKey, webcrypto, X509Certificate } from 'node:crypto';
import type { SecretBox } from '../crypto/secretbox.js';
import { getOrCreateKey } from '../keys/keystore.js';
import type { Db } from '../storage/db.js';

/** The IdP's SAML signing key: RSA 2048 with a self-signed certificate (what SPs and Microsoft 365 are given). */
export interface SamlSigningKey {
  /** PKCS#8 PEM. */
  privateKey: string;
  /** Base64 DER. */
  certificate: string;
}

/**
 * Generated at the first start and kept in the database for every instance, sealed under the
 * key-encryption key like the OIDC signing keys (src/keys/keystore.ts): never in the repository.
 */
export function loadSamlSigningKey(db: Db, box: SecretBox, issuer: string): Promise<SamlSigningKey> {
  return getOrCreateKey(db, 'saml-signing-key', box, () => createSamlSigningKey(new URL(issuer).host));
}

/** The same, loaded at the first use only (most IdPs have no SAML SP: no key is made for them); a failed load is retried. */
export function lazySamlSigningKey(db: Db, box: SecretBox, issuer: string): () => Promise<SamlSigningKey> {
  let key: Promise<SamlSigningKey> | null = null;
  return () => (key ??= loadSamlSigningKey(db, box, issuer).catch((err: unknown) => { key = null; throw err; }));
}

/** A new key and self-signed certificate (the tests make SP keys with it too). */
export async function createSamlSigningKey(subject: string): Promise<SamlSigningKey> {
  await import('reflect-metadata'); // @peculiar/x509 (via tsyringe) needs the Reflect metadata polyfill
  const x509 = await import('@peculiar/x509');
  x509.cryptoProvider.set(webcrypto as unknown as ReturnType<typeof x509.cryptoProvider.get>);
  const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(8))).toString('hex'),
    name: `CN=SAML ${subject.replace(/[,=+<>#;"\\]/g, '')}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 10 * 365 * 24 * 3600_000),
    signingAlgorithm: alg,
    keys: keys as unknown as CryptoKeyPair,
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return {
    privateKey: createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }).toString(),
    certificate: cert.toString('base64'),
  };
}

/** The certificate as PEM (what an admin uploads; `/saml/certificate`). */
export function certificatePem(key: SamlSigningKey): string {
  return new X509Certificate(Buffer.from(key.certificate, 'base64')).toString();
}
