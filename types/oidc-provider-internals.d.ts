/**
 * oidc-provider's keystore initializer (lib/helpers/initialize_keystore.js): what its constructor
 * runs on `configuration.jwks`. src/keys/signing-refresh.ts calls it again, bound to the provider,
 * when the stored signing keys change (a rotation), so a running process publishes and signs with
 * the new set without a restart.
 */
declare module 'oidc-provider/lib/helpers/initialize_keystore.js' {
  export default function initializeKeystore(this: object, jwks: { keys: object[] }): void;
}
