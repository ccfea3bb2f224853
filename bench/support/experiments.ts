/**
 * Scratch experiments for the IdP child, switched on by BENCH_EXPERIMENTS (comma-separated), to
 * measure a proposed change to src/ without editing it. Imported first by idp-server.ts, so a
 * patched CommonJS export is what src/ later imports. Nothing here runs unless asked for.
 *
 *   argon2-limit=N   at most N argon2 hash/verify calls at once in the process (others queue);
 *                    the proposed change to src/accounts/passwords.ts.
 *   provider-direct  serve oidc-provider's callback() without our Koa app in front (only for the
 *                    token endpoint: it measures what our middleware chain costs per request).
 *   account-cache=MS accounts.findById answered from an in-process cache for MS milliseconds.
 *   provider-fast-path  oidc-provider's endpoints (/auth, /token, /me, /jwks, ...) pass only our
 *                    error handler and host pinning, not the rest of our middleware and routers.
 *   two-stores       oidc-provider's AsyncLocalStorage entered beside ours, as before Provider.ctx
 *                    rode in ours (src/observability/request-context.ts): what a second store costs.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const experiments = new Map(
  (process.env.BENCH_EXPERIMENTS ?? '').split(',').filter(Boolean).map((e) => {
    const [k, v] = e.split('=');
    return [k!.trim(), (v ?? '1').trim()] as const;
  }),
);

/** A counting semaphore: run at most `max` of the wrapped async calls at once, FIFO. */
export function limitConcurrency<A extends unknown[], R>(max: number, fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  let active = 0;
  const queue: (() => void)[] = [];
  return async (...args: A) => {
    if (active >= max) await new Promise<void>((resolve) => queue.push(resolve));
    active++;
    try {
      return await fn(...args);
    } finally {
      active--;
      queue.shift()?.();
    }
  };
}

const argonLimit = experiments.get('argon2-limit');
if (argonLimit) {
  const argon2 = require('@node-rs/argon2') as Record<string, unknown>;
  const limit = Number(argonLimit);
  const run = limitConcurrency(limit, (f: (...a: unknown[]) => Promise<unknown>, a: unknown[]) => f(...a));
  for (const name of ['hash', 'verify'] as const) {
    const original = argon2[name] as (...a: unknown[]) => Promise<unknown>;
    argon2[name] = (...a: unknown[]) => run(original, a);
  }
}
