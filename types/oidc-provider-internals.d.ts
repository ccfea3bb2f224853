/**
 * oidc-provider's keystore initializer (lib/helpers/initialize_keystore.js): what its constructor
 * runs on `configuration.jwks`. src/keys/signing-refresh.ts calls it again, bound to the provider,
 * when the stored signing keys change (a rotation), so a running process publishes and signs with
 * the new set without a restart.
 */
declare module 'oidc-provider/lib/helpers/initialize_keystore.js' {
  export default function initializeKeystore(this: object, jwks: { keys: object[] }): void;
}

/**
 * oidc-provider's per-request storage (lib/helpers/als.js, an AsyncLocalStorage): its middleware
 * runs each request in it and `Provider.ctx` reads it. src/oidc/provider.ts keeps it in the
 * process's one store (src/observability/request-context.ts).
 */
declare module 'oidc-provider/lib/helpers/als.js' {
  import type { AsyncLocalStorage } from 'node:async_hooks';

  const als: AsyncLocalStorage<unknown>;
  export default als;
}
