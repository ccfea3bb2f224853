import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * What the request being served carries implicitly: its id (log lines, src/observability/request-id.ts)
 * and its language (the pages, src/i18n/).
 *
 * One AsyncLocalStorage in the whole process, and oidc-provider's per-request context
 * (`Provider.ctx`) rides in it too (`carryProviderContext`, below). On Node 20 every
 * AsyncLocalStorage that has been entered copies its value onto every promise and async resource the
 * process creates afterwards (async_hooks' init), so each store is paid on every await of every
 * request: with oidc-provider's own store entered beside ours, refresh grants ran at 0.92x of one
 * store in the same run (`BENCH_TOKEN_VARIANTS=two-stores npm run bench -- token` measures it).
 */
export interface RequestContext {
  readonly requestId: string;
  /** Set by the locale middleware; absent before it runs. */
  locale?: string;
}

/** The store: the request's context, and inside oidc-provider's own middleware its Koa context. */
interface Store {
  readonly request: RequestContext;
  readonly provider?: unknown;
}

const storage = new AsyncLocalStorage<Store>();

/** The request's context: read it, or run the rest of a request inside a new one. */
export const requestContext = {
  getStore: (): RequestContext | undefined => storage.getStore()?.request,
  run: <R>(request: RequestContext, fn: () => R): R => storage.run({ request }, fn),
};

/** The part of an AsyncLocalStorage that oidc-provider uses (lib/helpers/als.js: `run` and `getStore`). */
export interface ProviderStorage {
  run<R>(ctx: unknown, fn: (...args: unknown[]) => R, ...args: unknown[]): R;
  getStore(): unknown;
}

const carried = new WeakSet<object>();

/**
 * oidc-provider's AsyncLocalStorage kept in ours: its `run(ctx, fn)` (once per request, as its
 * middleware starts) runs `fn` in a store of ours that holds `ctx` beside the request's context, and
 * its `getStore()` (Provider.ctx) reads `ctx` back. So `Provider.ctx` is what it was, oidc-provider's
 * Koa context inside its middleware and undefined everywhere else (our own routes, the raw long-poll,
 * background work), and its own storage is never entered. Idempotent.
 */
export function carryProviderContext(als: ProviderStorage): void {
  if (carried.has(als)) return;
  carried.add(als);
  als.run = (ctx, fn, ...args) => storage.run({ request: storage.getStore()?.request ?? { requestId: '' }, provider: ctx }, fn, ...args);
  als.getStore = () => storage.getStore()?.provider;
}
