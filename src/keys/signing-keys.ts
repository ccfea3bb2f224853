import { webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../config/settings.js';
import { parseConfigJson } from '../config/json-folder.js';
import { calculateJwkThumbprint, type JWK } from 'jose';
import type { SecretBox } from '../crypto/secretbox.js';
import type { Db } from '../storage/db.js';
import { getOrCreateKey, updateKey } from './keystore.js';
import { planSigningKeys, rotateSigningKeys, type StoredSigningKeys } from './signing-rotation.js';

/**
 * @peculiar/x509 (with tsyringe, reflect-metadata and the ASN.1 schemas: a few MiB of heap) is
 * loaded only when a certificate is made, at the first start, not in every running process.
 */
async function loadX509() {
  await import('reflect-metadata'); // @peculiar/x509 (via tsyringe) needs the Reflect metadata polyfill
  const x509 = await import('@peculiar/x509');
  x509.cryptoProvider.set(webcrypto as unknown as ReturnType<typeof x509.cryptoProvider.get>);
  return x509;
}

export interface SigningJwks {
  keys: JWK[];
}

function clean(jwk: webcrypto.JsonWebKey): JWK {
  const { key_ops: _ops, ext: _ext, ...rest } = jwk;
  return rest as JWK;
}

const RSA = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as const;
const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;

/**
 * A self-signed certificate for a key pair, base64 DER, as `x5c` carries it: Microsoft's EAM
 * reference says the JWKS's `x5c` "must be present to provide X.509 representations of keys
 * provided", of every key (red-team, Entra round: the ES256 key had none).
 */
async function certificateFor(keys: webcrypto.CryptoKeyPair, subject: string): Promise<string> {
  const now = Date.now();
  const x509 = await loadX509();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(8))).toString('hex'),
    name: `CN=${subject.replace(/[,=+<>#;"\\]/g, '')}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 10 * 365 * 24 * 3600_000),
    signingAlgorithm: keys.privateKey.algorithm.name === 'ECDSA' ? { name: 'ECDSA', hash: 'SHA-256' } : RSA,
    keys: keys as unknown as CryptoKeyPair,
  });
  return Buffer.from(cert.rawData).toString('base64');
}

/** A fresh signing key with a self-signed certificate (`x5c`): RS256 (RSA 2048) or ES256 (P-256). */
async function newKey(alg: 'RS256' | 'ES256', subject: string): Promise<JWK> {
  const params = alg === 'RS256' ? { ...RSA, publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 } : EC;
  const keys = (await webcrypto.subtle.generateKey(params, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const jwk = clean(await webcrypto.subtle.exportKey('jwk', keys.privateKey));
  const kid = await calculateJwkThumbprint(jwk);
  return { ...jwk, kid, use: 'sig', alg, x5c: [await certificateFor(keys, subject)] };
}

/** A stored key made before its kind carried a certificate (ES256 until 2026-12-07), with one. */
async function withCertificate(jwk: JWK, subject: string): Promise<JWK> {
  if (Array.isArray(jwk.x5c) && jwk.x5c.length > 0) return jwk;
  const alg = jwk.kty === 'EC' ? EC : RSA;
  const { kid: _kid, use: _use, alg: _alg, x5c: _x5c, ...material } = jwk;
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = material;
  const keys = {
    privateKey: await webcrypto.subtle.importKey('jwk', material as webcrypto.JsonWebKey, alg, false, ['sign']),
    publicKey: await webcrypto.subtle.importKey('jwk', pub as webcrypto.JsonWebKey, alg, true, ['verify']),
  } as webcrypto.CryptoKeyPair;
  return { ...jwk, x5c: [await certificateFor(keys, subject)] };
}

/** A fresh pair: RS256 first (so it is the default) and ES256. */
async function generateSigningKeys(issuer: string): Promise<JWK[]> {
  return [await newKey('RS256', new URL(issuer).host), await newKey('ES256', new URL(issuer).host)];
}

const ROW = 'oidc-signing-jwks';

/**
 * The OIDC signing keys: supplied in a JWKS file (JWKS_FILE), or generated at first start (RS256
 * first, so it is the default, and ES256) and stored in the database for every instance, sealed
 * under the key-encryption key (src/keys/keystore.ts). Stored keys follow their rotation schedule
 * (src/keys/signing-rotation.ts): the set returned is the one to publish and sign with at `now`.
 */
export async function loadSigningKeys(db: Db | null, issuer: string, jwksFile: string | null = null, box: SecretBox | null = null, now = Date.now()): Promise<SigningJwks> {
  if (jwksFile) return readJwksFile(jwksFile);
  if (!db || !box) throw new Error('generated signing keys live in the database, sealed under the key-encryption key');
  return planSigningKeys(await readStoredSigningKeys(db, issuer, box), now);
}

/** The stored keys with their rotation schedule (generated at first use; a certificate added to a key stored without one). */
export async function readStoredSigningKeys(db: Db, issuer: string, box: SecretBox): Promise<StoredSigningKeys> {
  const create = async () => ({ keys: await generateSigningKeys(issuer) });
  const stored = await getOrCreateKey<StoredSigningKeys>(db, ROW, box, create);
  if (stored.keys.every((k) => Array.isArray(k.x5c) && k.x5c.length > 0)) return stored;
  const subject = new URL(issuer).host;
  return updateKey<StoredSigningKeys>(db, ROW, box, create, async (current) => ({ ...current, keys: await Promise.all(current.keys.map((k) => withCertificate(k, subject))) }));
}

/** `admin keys rotate`: stores a new pair, published now, signing after `activateAfterMs`. */
export async function rotateStoredSigningKeys(
  db: Db, issuer: string, box: SecretBox, now: number,
  opts: { activateAfterMs: number; retireAfterMs: number; force?: boolean },
): Promise<StoredSigningKeys> {
  const fresh = await generateSigningKeys(issuer);
  return updateKey<StoredSigningKeys>(db, ROW, box, async () => ({ keys: await generateSigningKeys(issuer) }), (stored) => rotateSigningKeys(stored, fresh, now, opts));
}

function readJwksFile(file: string): SigningJwks {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, '(file)', `not a readable JSON Web Key Set (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  // Its message names no part of the text: the file holds private keys.
  const jwks = parseConfigJson(file, text, 'not a readable JSON Web Key Set') as SigningJwks;
  if (jwks === null || typeof jwks !== 'object') throw new ConfigError(file, 'keys', 'must be a non-empty array');
  if (!Array.isArray(jwks.keys) || jwks.keys.length === 0) throw new ConfigError(file, 'keys', 'must be a non-empty array');
  jwks.keys.forEach((k, i) => {
    if (!k.d) throw new ConfigError(file, `keys.${i}`, 'must be a private key (with "d")');
  });
  // Entra ID and most relying apps need RS256.
  if (!jwks.keys.some((k) => k.kty === 'RSA')) throw new ConfigError(file, 'keys', 'must include an RSA key (RS256)');
  return jwks;
}

/**
 * Entra ID reads `x5c` from the JWKS (docs/entra.md): generated RSA keys carry a self-signed
 * certificate; a JWKS_FILE must bring its own for an Entra client, or the start stops here.
 */
export function requireCertificate(jwks: SigningJwks, source: string): void {
  const rsa = jwks.keys.filter((k) => k.kty === 'RSA');
  if (!rsa.some((k) => Array.isArray(k.x5c) && k.x5c.length > 0)) {
    throw new ConfigError(source, 'keys', 'an Entra client (upstream profile "entra") needs an RSA signing key with a certificate chain (x5c)');
  }
}
