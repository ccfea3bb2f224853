import { trustStore } from '../net/tls-files.js';

/**
 * PUSH_CA: the CA certificates to trust for push services besides Node's bundled roots (an
 * operator's push proxy behind a private CA; the tests' local push service). Added, not instead:
 * the browser vendors' services keep working. A file that is missing or holds no certificate
 * stops the start, naming the setting.
 */
export function pushTrustStore(file: string | null): string[] | undefined {
  return trustStore(file, 'PUSH_CA');
}
