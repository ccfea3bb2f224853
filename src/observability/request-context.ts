import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * What the request being served carries implicitly: its id (log lines, src/observability/request-id.ts)
 * and its language (the pages, src/i18n/). One store for both: on Node 20 every AsyncLocalStorage
 * that has been entered copies its value onto every promise and async resource the process creates
 * afterwards (async_hooks' init), so each extra store is paid on every await of every request
 * (oidc-provider keeps one of its own for Provider.ctx).
 */
export interface RequestContext {
  readonly requestId: string;
  /** Set by the locale middleware; absent before it runs. */
  locale?: string;
}

export const requestContext = new AsyncLocalStorage<RequestContext>();
