import { createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { ExternalSigningKey, type JWK } from 'oidc-provider';

/**
 * oidc-provider signs every ID token through jose's CompactSign on WebCrypto: an algorithm
 * normalisation, a job handed to the thread pool and a promise per token (about 100 µs of CPU for
 * ES256, bench/token-endpoint.ts). Given a key as an ExternalSigningKey (its features.externalSigningSupport),
 * it builds the JWS itself and asks the key for the signature alone; the key here signs in place
 * with node:crypto's one-shot sign over a KeyObject made once (about 40 µs). The same key, the
 * same algorithm, the same JWS: only the route to the signature is shorter.
 *
 * Only keys that name their algorithm, of the algorithms below, go this way; any other key stays a
 * JWK and takes oidc-provider's own path. The published JWKS is unchanged (kty, crv, x, y, n, e,
 * kid, alg, use, x5c come from the public key and the JWK).
 */
const ROUTES: Record<string, { digest: string | null; dsaEncoding?: 'ieee-p1363' }> = {
  ES256: { digest: 'sha256', dsaEncoding: 'ieee-p1363' },
  RS256: { digest: 'sha256' },
  EdDSA: { digest: null },
  Ed25519: { digest: null },
};

/** The experimental feature version this oidc-provider implements (a different one refuses to start). */
export const EXTERNAL_SIGNING = { enabled: true, ack: 'experimental-01' } as const;

export class LocalSigningKey extends ExternalSigningKey {
  readonly #private: KeyObject;
  readonly #public: KeyObject;
  readonly #x5c: string[] | undefined;
  readonly #route: { digest: string | null; dsaEncoding?: 'ieee-p1363' };

  constructor(jwk: JWK & { alg: string; kid: string }) {
    super();
    this.#route = ROUTES[jwk.alg]!;
    this.#private = createPrivateKey({ key: jwk as never, format: 'jwk' });
    this.#public = createPublicKey(this.#private);
    this.#x5c = Array.isArray(jwk.x5c) && jwk.x5c.length ? [...jwk.x5c] : undefined;
    // oidc-provider's class has setters for these; its typings declare only the getters.
    const named = this as unknown as { kid: string; alg: string };
    named.kid = jwk.kid;
    named.alg = jwk.alg;
  }

  override get x5c(): string[] | undefined {
    return this.#x5c;
  }

  /** The public key: what oidc-provider publishes and verifies with. */
  override keyObject(): KeyObject {
    return this.#public;
  }

  override sign(data: Uint8Array): Uint8Array {
    const { digest, dsaEncoding } = this.#route;
    return sign(digest, data, dsaEncoding ? { key: this.#private, dsaEncoding } : this.#private);
  }
}

/** The key set to hand oidc-provider: private signing keys of a known algorithm as LocalSigningKey, the rest as they are. */
export function providerSigningKeys(jwks: { keys: readonly JWK[] }): { keys: (JWK | ExternalSigningKey)[] } {
  return {
    keys: jwks.keys.map((k) => {
      const usable = typeof k.alg === 'string' && k.alg in ROUTES && typeof k.kid === 'string' && typeof k.d === 'string'
        && (k.use === undefined || k.use === 'sig');
      return usable ? new LocalSigningKey(k as JWK & { alg: string; kid: string }) : structuredClone(k);
    }),
  };
}
